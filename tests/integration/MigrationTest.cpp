// `bridge migrate` end to end, as the real process (OPERATIONS.md "The migrator's promises"): killed at random
// points and run again it ends like one clean run; what it lands reads back through both panels over HTTP as the
// legacy rows said; a migrated refresh token mints access tokens at the Salesforce stand-in; a connection an admin
// changes while it runs is left as the admin made it; and the legacy tables' checksums never change.
#include <Poco/JSON/Array.h>
#include <Poco/URI.h>
#include <cppconn/connection.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ServerHarness.h"
#include "bridge/crypto/Secrets.h"
#include "bridge/crypto/TokenCipher.h"
#include "bridge/salesforce/SalesforceClient.h"
#include "bridge/services/Connectivity.h"
#include "bridge/store/StoreFactory.h"
#include "mappings/SalesforceIds.h"
#include "testsupport/ChildProcess.h"
#include "testsupport/LegacyDataGenerator.h"
#include "testsupport/MariaDbServer.h"
#include "testsupport/TestDirectory.h"

namespace bridge::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testsupport::ChildProcess;
using testsupport::LegacyCase;
using testsupport::LegacyDataManifest;
using testsupport::LegacyDataSpec;

constexpr auto kRunTimeout = 120s;
constexpr std::string_view kCallbackPath = "/oauth/salesforce/callback";
constexpr std::string_view kLostMessage = "Salesforce connectivity was lost. Do you want to re-establish it?";

// The store's crypto.keys, shared by the migrator and the server that reads what it sealed.
std::string storeCryptoKeys() { return "k1:" + base64Encode(std::string(32, 's')); }

// A server over the migrated store that opens the tokens the migrator sealed. No background keep-alive: it would
// refresh every migrated connection at once, at a stand-in that knows none of the generated tokens.
ServerHarness::Options serverOver(const std::string& storeDsn) {
    ServerHarness::Options options;
    options.storeDsn = storeDsn;
    options.keepAliveSeconds = 0;
    options.cryptoKeys = storeCryptoKeys();
    return options;
}

std::string hexOf(const std::string& bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    for (const unsigned char byte : bytes) {
        text += kDigits[byte >> 4];
        text += kDigits[byte & 0xF];
    }
    return text;
}

// legacy-schema.sql "Legacy token encryption": base64(iv || AES-256-CBC-PKCS7(key, iv, token)).
std::string legacyEncrypt(const std::string& key, const std::string& token) {
    const std::string iv = randomBytes(16);
    const std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> context(EVP_CIPHER_CTX_new(),
                                                                                  &EVP_CIPHER_CTX_free);
    std::string sealed(token.size() + 16, '\0');
    auto* out = reinterpret_cast<unsigned char*>(sealed.data());
    int written = 0;
    int finalWritten = 0;
    if (!context ||
        EVP_EncryptInit_ex(context.get(), EVP_aes_256_cbc(), nullptr,
                           reinterpret_cast<const unsigned char*>(key.data()),
                           reinterpret_cast<const unsigned char*>(iv.data())) != 1 ||
        EVP_EncryptUpdate(context.get(), out, &written, reinterpret_cast<const unsigned char*>(token.data()),
                          static_cast<int>(token.size())) != 1 ||
        EVP_EncryptFinal_ex(context.get(), out + written, &finalWritten) != 1) {
        throw std::runtime_error("AES-256-CBC encryption failed");
    }
    sealed.resize(static_cast<std::size_t>(written + finalWritten));
    return base64Encode(iv + sealed);
}

void execute(sql::Connection& connection, const std::string& statement) {
    std::unique_ptr<sql::Statement>(connection.createStatement())->execute(statement);
}

std::unique_ptr<sql::ResultSet> query(sql::Connection& connection, const std::string& statement) {
    return std::unique_ptr<sql::ResultSet>(
        std::unique_ptr<sql::Statement>(connection.createStatement())->executeQuery(statement));
}

std::optional<std::string> nullableColumn(sql::ResultSet& row, const std::string& column) {
    if (row.isNull(column)) return std::nullopt;
    return std::string(row.getString(column));
}

// "2026-03-14 09:26:53" (legacy) -> "2026-03-14T09:26:53Z" (new panel).
std::string rfc3339(const std::string& legacyTime) {
    return legacyTime.substr(0, 10) + "T" + legacyTime.substr(11) + "Z";
}

std::optional<std::string> nullableField(const Poco::JSON::Object::Ptr& object, const std::string& name) {
    if (object->isNull(name)) return std::nullopt;
    return object->getValue<std::string>(name);
}

std::string text(const std::optional<std::string>& value) { return value ? "\"" + *value + "\"" : "null"; }
std::string text(const std::optional<std::int64_t>& value) { return value ? std::to_string(*value) : "null"; }

// Everything the store holds for the migrated organizations, one line per organization, user and connection, plus
// the organization's events: tokens as the SHA-256 of what they open to (a ciphertext differs with every seal),
// events without their times (the run's clock).
std::vector<std::string> storeContents(const std::string& storeDsn) {
    const auto store = openStore(storeDsn, 1);
    const auto cipher = TokenCipher::fromSpec(storeCryptoKeys());
    OrganizationScope everything;
    everything.all = true;
    std::vector<std::string> lines;
    for (std::int64_t afterOrg = 0;;) {
        const auto organizations = store->listOrganizations(everything, afterOrg, 500);
        if (organizations.empty()) break;
        for (const auto& organization : organizations) {
            const std::int64_t orgId = organization.legacyId;
            lines.push_back("organization " + std::to_string(orgId) + " " + organization.publicId() + " " +
                            organization.name);
            for (std::int64_t afterUser = 0;;) {
                const auto users = store->listUsersAfter(orgId, afterUser, 500);
                if (users.empty()) break;
                for (const auto& user : users) {
                    lines.push_back("user " + std::to_string(user.legacyId) + " " + user.publicId() + " of " +
                                    std::to_string(user.orgId) + " " + user.email + " " + text(user.displayName) + " " +
                                    text(user.salesforceUserId) + " active " + std::to_string(user.active) +
                                    " suspended " + std::to_string(user.syncSuspended) + " " +
                                    text(user.suspendReason) + " by loss " + std::to_string(user.suspendedByLoss));
                }
                afterUser = users.back().legacyId;
            }
            const Connection connection = store->loadConnection(orgId);
            const std::optional<std::string> token =
                connection.refreshToken
                    ? std::optional(connection.refreshToken->keyId + ":" +
                                    sha256Hex(cipher.open(*connection.refreshToken,
                                                          Connectivity::refreshTokenAssociatedData(orgId))))
                    : std::nullopt;
            lines.push_back(
                "connection toggle " + std::to_string(connection.serviceAccountLoginEnabled) + " " +
                connection.authorizationMethod + " status " + std::to_string(static_cast<int>(connection.status)) +
                " environment " +
                (connection.environment ? std::to_string(static_cast<int>(*connection.environment)) : "null") + " " +
                text(connection.serviceAccountUserId) + " " + text(connection.serviceAccountUsername) + " " +
                text(connection.salesforceOrgId) + " " + text(connection.instanceUrl) + " token " + text(token) +
                " changed " + text(connection.statusChangedAt) + " connected " + text(connection.connectedAt) + " " +
                text(connection.lastError) + " refreshed " + text(connection.lastRefreshAt) + " by admin " +
                text(connection.changedByAdminAt) + " version " + std::to_string(connection.version));
            std::string events = "events";
            for (const auto& event : store->listEvents(orgId, std::numeric_limits<std::int64_t>::max(), 100)) {
                // Appended, not " " + ...: g++ 12 at -O3 reports a false -Wrestrict inside
                // operator+(const char*, std::string&&) (GCC bug 105329).
                events.append(" ").append(eventTypeName(event.type)).append(" ").append(text(event.actor));
                events.append(" ").append(text(event.detail)).append(";");
            }
            lines.push_back(events);
        }
        afterOrg = organizations.back().legacyId;
    }
    return lines;
}

// A legacy database of a test's own on the suite's MariaDB; the migrator reads it as a SELECT-only user.
struct LegacyDatabase {
    std::string name;
    std::string readerDsn;
    std::string tokenKeys;
    LegacyDataManifest manifest;

    std::int64_t liveOrganizationCount() const {
        return manifest.organizationRows -
               static_cast<std::int64_t>(manifest.organizationsWith(LegacyCase::SoftDeleted).size());
    }
    bool live(std::int64_t orgId) const { return !manifest.has(orgId, LegacyCase::SoftDeleted); }
    // Ids of organizations of `legacyCase` that migrate, ascending.
    std::vector<std::int64_t> liveWith(LegacyCase legacyCase) const {
        std::vector<std::int64_t> ids;
        for (const auto id : manifest.organizationsWith(legacyCase)) {
            if (live(id)) ids.push_back(id);
        }
        return ids;
    }
};

// What a `bridge migrate` run printed on standard output and how it ended.
struct MigrateOutcome {
    int exitStatus = -1;
    std::vector<std::string> report;  // the "skipped ..." lines, then the summary

    std::string summary() const { return report.empty() ? std::string() : report.back(); }
    std::vector<std::string> skippedLines() const {
        return report.empty() ? report : std::vector<std::string>(report.begin(), report.end() - 1);
    }
};

class MigrationTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { mariadb_ = new testsupport::MariaDbServer(); }
    static void TearDownTestSuite() {
        delete mariadb_;
        mariadb_ = nullptr;
    }

    void SetUp() override { directory_ = testsupport::freshTestDirectory("bridge-migration-test"); }
    void TearDown() override { std::filesystem::remove_all(directory_); }

    std::string sqliteStore(const std::string& file) const { return "sqlite:" + (directory_ / file).string(); }

    static LegacyDatabase createLegacyDatabase(const std::string& name) {
        mariadb_->createDatabase(name);
        mariadb_->createReadOnlyUser(name + "_reader", "secret", name);
        return {.name = name,
                .readerDsn = mariadb_->dsn(name, name + "_reader", "secret"),
                .tokenKeys = {},
                .manifest = {}};
    }
    static LegacyDatabase generateLegacyDatabase(const std::string& name, LegacyDataSpec spec) {
        LegacyDatabase database = createLegacyDatabase(name);
        database.manifest = testsupport::LegacyDataGenerator(spec).generate(*root(database));
        database.tokenKeys = database.manifest.tokenKeys;
        return database;
    }
    static std::unique_ptr<sql::Connection> root(const LegacyDatabase& database) {
        return mariadb_->connectAsRoot(database.name);
    }
    static std::string legacyChecksum(const LegacyDatabase& database) {
        return testsupport::legacyTableChecksums(*root(database));
    }

    static std::vector<std::int64_t> liveOrganizationIds(const LegacyDatabase& database) {
        const auto rows = query(*root(database), "SELECT id FROM organizations WHERE is_deleted = 0 ORDER BY id");
        std::vector<std::int64_t> ids;
        while (rows->next()) ids.push_back(rows->getInt64(1));
        return ids;
    }

    // `options`: after `bridge migrate`, such as {"--orgs-from", FILE}.
    static std::unique_ptr<ChildProcess> startMigrate(const LegacyDatabase& legacy, const std::string& storeDsn,
                                                      int batchSize, std::vector<std::string> options = {}) {
        options.insert(options.begin(), "migrate");
        return std::make_unique<ChildProcess>(
            testsupport::ChildProcessOptions{.executable = BRIDGE_EXECUTABLE,
                                             .arguments = std::move(options),
                                             .environment = {{"BRIDGE_LEGACY_DSN", legacy.readerDsn},
                                                             {"BRIDGE_LEGACY_TOKENKEYS", legacy.tokenKeys},
                                                             {"BRIDGE_STORE_DSN", storeDsn},
                                                             {"BRIDGE_CRYPTO_KEYS", storeCryptoKeys()},
                                                             {"BRIDGE_MIGRATE_BATCHSIZE", std::to_string(batchSize)},
                                                             {"BRIDGE_LOG_LEVEL", "warn"}}});
    }
    static MigrateOutcome finish(ChildProcess& process) {
        MigrateOutcome outcome;
        try {
            process.waitForLine("migrated ", kRunTimeout);  // the summary, printed last
        } catch (const std::runtime_error& error) {
            ADD_FAILURE() << error.what();
            process.kill();
        }
        outcome.exitStatus = process.wait();
        outcome.report = process.lines();
        return outcome;
    }
    static MigrateOutcome migrate(const LegacyDatabase& legacy, const std::string& storeDsn, int batchSize,
                                  std::vector<std::string> options = {}) {
        return finish(*startMigrate(legacy, storeDsn, batchSize, std::move(options)));
    }

    static std::string summaryLine(std::int64_t migrated, std::int64_t alreadyCurrent, std::size_t skipped) {
        return "migrated " + std::to_string(migrated) + ", already current " + std::to_string(alreadyCurrent) +
               ", skipped " + std::to_string(skipped) + ", failed 0";
    }

    static testsupport::MariaDbServer* mariadb_;
    std::filesystem::path directory_;
};

testsupport::MariaDbServer* MigrationTest::mariadb_ = nullptr;

// --- killed at random points, then run to the end ---

// Equal line for line; on a difference, the first one rather than two whole stores.
void expectSameStore(const std::vector<std::string>& actual, const std::vector<std::string>& expected) {
    EXPECT_EQ(actual.size(), expected.size());
    const auto [firstActual, firstExpected] =
        std::mismatch(actual.begin(), actual.end(), expected.begin(), expected.end());
    EXPECT_TRUE(firstActual == actual.end() && firstExpected == expected.end())
        << "first difference from one clean run:\n  this store: "
        << (firstActual == actual.end() ? "(end)" : *firstActual)
        << "\n  clean run:  " << (firstExpected == expected.end() ? "(end)" : *firstExpected);
}

TEST_F(MigrationTest, KilledAtRandomPointsAndRunAgainTheStoreEndsAsAfterOneCleanRun) {
    constexpr int kBatchSize = 5;
    constexpr std::uint32_t kKillSeed = 20240611;
    const auto legacy =
        generateLegacyDatabase("killed", {.seed = 31, .organizations = 3000, .usersPerOrganization = 3});
    const std::string checksum = legacyChecksum(legacy);

    const std::string cleanStore = sqliteStore("clean.db");
    const auto clean = migrate(legacy, cleanStore, kBatchSize);
    ASSERT_EQ(clean.exitStatus, 3) << clean.summary();
    const std::size_t skipped = clean.skippedLines().size();
    EXPECT_EQ(clean.summary(), summaryLine(legacy.liveOrganizationCount(), 0, skipped));
    EXPECT_EQ(legacyChecksum(legacy), checksum);
    const auto expected = storeContents(cleanStore);

    // Kill points drawn from a fixed seed: once while the process starts (connecting, creating the schema), then
    // twice mid-run, a few milliseconds after a drawn organization landed, while the next batches are on their way.
    // Drawn by progress rather than by time, so that a loaded machine still sees every kill land before the end.
    const std::string killedStore = sqliteStore("killed.db");
    std::mt19937 random(kKillSeed);
    const auto draw = [&random](int low, int high) { return std::uniform_int_distribution<int>(low, high)(random); };
    const auto killAndCheck = [&](ChildProcess& process, const std::string& when) {
        EXPECT_EQ(process.kill(), 128 + SIGKILL) << "ended before it was killed " << when << ":\n" << process.output();
        EXPECT_EQ(legacyChecksum(legacy), checksum) << "after the run killed " << when;
    };
    {
        const auto process = startMigrate(legacy, killedStore, kBatchSize);
        const int delayMs = draw(5, 40);
        std::this_thread::sleep_for(std::chrono::milliseconds(delayMs));
        killAndCheck(*process, std::to_string(delayMs) + " ms after its start");
    }
    const std::vector<std::int64_t> ids = liveOrganizationIds(legacy);
    const auto observer = openStore(killedStore, 1);
    const auto landed = [&observer](std::int64_t orgId) {
        try {
            return observer->findOrganization(orgId).has_value();
        } catch (const std::exception&) {
            return false;  // the killed start may not have got as far as creating the schema
        }
    };
    const int count = static_cast<int>(ids.size());
    for (const auto& [lowPercent, highPercent] : {std::pair{20, 45}, std::pair{55, 85}}) {
        const std::int64_t target =
            ids.at(static_cast<std::size_t>(draw(count * lowPercent / 100, count * highPercent / 100)));
        const auto process = startMigrate(legacy, killedStore, kBatchSize);
        const auto deadline = Clock::now() + kRunTimeout;
        while (!landed(target) && process->running() && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
        const int delayMs = draw(0, 5);
        std::this_thread::sleep_for(std::chrono::milliseconds(delayMs));
        killAndCheck(*process,
                     std::to_string(delayMs) + " ms after organization " + std::to_string(target) + " landed");
    }

    const auto completed = migrate(legacy, killedStore, kBatchSize);
    EXPECT_EQ(completed.exitStatus, 3) << completed.summary();
    EXPECT_EQ(completed.skippedLines(), clean.skippedLines());
    EXPECT_EQ(legacyChecksum(legacy), checksum);
    expectSameStore(storeContents(killedStore), expected);

    const auto again = migrate(legacy, killedStore, kBatchSize);
    EXPECT_EQ(again.exitStatus, 3);
    EXPECT_EQ(again.summary(), summaryLine(0, legacy.liveOrganizationCount(), skipped));
    EXPECT_EQ(legacyChecksum(legacy), checksum);
    expectSameStore(storeContents(killedStore), expected);
}

// --- a staged run: a pilot first, killed and run again, then everything ---

TEST_F(MigrationTest, AStagedRunKilledAndRunAgainEndsAsOneCleanStagedRunAndTheFullRunFindsThePilotCurrent) {
    constexpr int kBatchSize = 5;
    constexpr std::int64_t kUnknownId = 99999999;
    const auto legacy =
        generateLegacyDatabase("staged", {.seed = 61, .organizations = 1500, .usersPerOrganization = 3});
    const std::string checksum = legacyChecksum(legacy);

    // The pilot: every third id up to the last organization (soft-deleted organizations and orphan ids among them),
    // and an id the legacy database does not have.
    const std::vector<std::int64_t> live = liveOrganizationIds(legacy);
    std::string pilotFile = "# pilot agreed with support\n\n";
    std::vector<std::int64_t> livePilot;
    for (std::int64_t id = 1; id <= live.back(); id += 3) {
        pilotFile.append(std::to_string(id)).append(id % 2 == 0 ? "  # even\n" : "\n");
        if (std::binary_search(live.begin(), live.end(), id)) livePilot.push_back(id);
    }
    pilotFile.append(std::to_string(kUnknownId)).append("\r\n");
    const std::string pilotPath = (directory_ / "pilot.txt").string();
    std::ofstream(pilotPath, std::ios::binary) << pilotFile;  // written and closed here
    const std::vector<std::string> staged{"--orgs-from", pilotPath};
    const auto pilotCount = static_cast<std::int64_t>(livePilot.size());

    const std::string cleanStore = sqliteStore("staged-clean.db");
    const auto clean = migrate(legacy, cleanStore, kBatchSize, staged);
    ASSERT_EQ(clean.exitStatus, 3) << clean.summary();
    EXPECT_EQ(clean.summary(), summaryLine(pilotCount, 0, clean.skippedLines().size() - 1));
    EXPECT_EQ(std::count(clean.report.begin(), clean.report.end(),
                         "not found organization " + std::to_string(kUnknownId) +
                             ": selected, but the legacy database has no row of it"),
              1);
    const auto expected = storeContents(cleanStore);
    ASSERT_EQ(
        static_cast<std::int64_t>(std::count_if(expected.begin(), expected.end(),
                                                [](const auto& line) { return line.rfind("organization ", 0) == 0; })),
        pilotCount);

    // Killed a few milliseconds after a pilot organization halfway through landed, then run again.
    const std::string store = sqliteStore("staged.db");
    {
        const std::int64_t target = livePilot.at(livePilot.size() / 2);
        const auto process = startMigrate(legacy, store, kBatchSize, staged);
        const auto observer = openStore(store, 1);
        const auto landed = [&] {
            try {
                return observer->findOrganization(target).has_value();
            } catch (const std::exception&) {
                return false;  // the schema is not there yet
            }
        };
        const auto deadline = Clock::now() + kRunTimeout;
        while (!landed() && process->running() && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
        std::this_thread::sleep_for(2ms);
        EXPECT_EQ(process->kill(), 128 + SIGKILL) << "ended before it was killed:\n" << process->output();
        EXPECT_EQ(legacyChecksum(legacy), checksum);
    }
    const auto completed = migrate(legacy, store, kBatchSize, staged);
    EXPECT_EQ(completed.exitStatus, 3) << completed.summary();
    EXPECT_EQ(completed.skippedLines(), clean.skippedLines());
    expectSameStore(storeContents(store), expected);

    // The full run migrates the rest and finds the pilot migrated and unchanged.
    const auto full = migrate(legacy, store, kBatchSize);
    EXPECT_EQ(full.exitStatus, 3) << full.summary();
    EXPECT_EQ(full.summary(),
              summaryLine(legacy.liveOrganizationCount() - pilotCount, pilotCount, full.skippedLines().size()));
    EXPECT_EQ(legacyChecksum(legacy), checksum);
}

// --- read back through both panels ---

struct LegacyConnectivityRow {
    bool toggle = false;
    std::optional<std::string> environmentLetter;
    std::optional<std::string> serviceAccountUserId;
    std::optional<std::string> serviceAccountUsername;
    std::optional<std::string> salesforceOrgId;
    std::optional<std::string> statusChangedAt;
    std::optional<std::string> lastError;
};

struct LegacyUserRow {
    std::int64_t id = 0;
    std::string email;
    std::optional<std::string> displayName;
    std::optional<std::string> salesforceUserId;
    bool active = true;
    bool suspended = false;
    std::optional<std::string> syncError;
};

// The legacy rows, read as plainly as the legacy panel would.
struct LegacyRows {
    std::map<std::int64_t, std::string> liveOrganizations;  // name by id
    std::map<std::int64_t, LegacyConnectivityRow> connectivity;
    std::map<std::int64_t, std::vector<LegacyUserRow>> users;  // by organization, ascending ids

    explicit LegacyRows(sql::Connection& connection) {
        auto organizations = query(connection, "SELECT id, name FROM organizations WHERE is_deleted = 0");
        while (organizations->next()) {
            liveOrganizations[organizations->getInt64("id")] = std::string(organizations->getString("name"));
        }
        auto rows = query(connection,
                          "SELECT org_id, sa_login_enabled, sf_environment, sa_user_id, sa_username, sf_org_id, "
                          "status_changed_at, last_error FROM org_salesforce_connectivity");
        while (rows->next()) {
            connectivity[rows->getInt64("org_id")] = {.toggle = rows->getInt("sa_login_enabled") == 1,
                                                      .environmentLetter = nullableColumn(*rows, "sf_environment"),
                                                      .serviceAccountUserId = nullableColumn(*rows, "sa_user_id"),
                                                      .serviceAccountUsername = nullableColumn(*rows, "sa_username"),
                                                      .salesforceOrgId = nullableColumn(*rows, "sf_org_id"),
                                                      .statusChangedAt = nullableColumn(*rows, "status_changed_at"),
                                                      .lastError = nullableColumn(*rows, "last_error")};
        }
        auto userRows = query(connection,
                              "SELECT id, org_id, email, display_name, sf_user_id, is_active, sync_state, sync_error "
                              "FROM org_users ORDER BY id");
        while (userRows->next()) {
            users[userRows->getInt64("org_id")].push_back(
                {.id = userRows->getInt64("id"),
                 .email = std::string(userRows->getString("email")),
                 .displayName = nullableColumn(*userRows, "display_name"),
                 .salesforceUserId = nullableColumn(*userRows, "sf_user_id"),
                 .active = userRows->getInt("is_active") == 1,
                 .suspended = std::string(userRows->getString("sync_state")) == "suspended",
                 .syncError = nullableColumn(*userRows, "sync_error")});
        }
    }
};

std::optional<std::string> environmentName(const std::optional<std::string>& letter) {
    if (!letter) return std::nullopt;
    if (*letter == "P" || *letter == "p") return "production";
    if (*letter == "S" || *letter == "s") return "sandbox";
    ADD_FAILURE() << "the generator wrote sf_environment " << *letter;
    return std::nullopt;
}

std::optional<std::string> id18(const std::optional<std::string>& legacyId) {
    if (!legacyId) return std::nullopt;
    const auto converted = mappings::toSalesforceId18(*legacyId);
    EXPECT_TRUE(converted && converted->size() == 18 && converted->substr(0, 15) == legacyId->substr(0, 15))
        << *legacyId;
    return converted;
}

TEST_F(MigrationTest, MigratedOrganizationsReadThroughBothPanelsAsTheLegacyRowsSaid) {
    const auto legacy = generateLegacyDatabase("panels", {.seed = 41, .organizations = 60, .usersPerOrganization = 4});
    const std::string checksum = legacyChecksum(legacy);
    const std::string store = sqliteStore("panels.db");
    ASSERT_EQ(migrate(legacy, store, 7).exitStatus, 3);
    EXPECT_EQ(legacyChecksum(legacy), checksum);

    ServerHarness server(serverOver(store));
    const std::string support = server.supportToken();
    const LegacyRows rows(*root(legacy));
    std::set<std::int64_t> superseded;
    for (const auto& twin : legacy.manifest.caseTwins) superseded.insert(twin.olderUserId);

    // Every live organization under its legacy id, in both panels, and nothing else.
    const auto legacyList = server.call("GET", "/legacy/api/organizations", support);
    ASSERT_EQ(legacyList.status, 200) << legacyList.body;
    std::map<std::int64_t, std::string> listedByLegacy;
    const auto legacyOrganizations = legacyList.json()->getArray("data");
    for (const auto& entry : *legacyOrganizations) {
        const auto organization = entry.extract<Poco::JSON::Object::Ptr>();
        listedByLegacy[organization->getValue<std::int64_t>("id")] = organization->getValue<std::string>("name");
    }
    EXPECT_EQ(listedByLegacy, rows.liveOrganizations);
    const auto profiles = server.call("GET", "/api/v2/profiles?limit=500", support);
    ASSERT_EQ(profiles.status, 200) << profiles.body;
    std::map<std::int64_t, std::string> listedByModern;
    std::map<std::int64_t, std::string> profileIds;
    const auto profileItems = profiles.json()->getArray("items");
    for (const auto& entry : *profileItems) {
        const auto profile = entry.extract<Poco::JSON::Object::Ptr>();
        const auto orgId = profile->getValue<std::int64_t>("legacyOrgId");
        listedByModern[orgId] = profile->getValue<std::string>("name");
        profileIds[orgId] = profile->getValue<std::string>("id");
    }
    EXPECT_EQ(listedByModern, rows.liveOrganizations);

    std::set<std::string> statusesSeen;
    for (const auto& [orgId, name] : rows.liveOrganizations) {
        SCOPED_TRACE("organization " + std::to_string(orgId));
        const std::string legacyToken = server.orgAdminToken({orgId});
        const std::string legacyPath = "/legacy/api/organizations/" + std::to_string(orgId);
        const std::string modernPath = "/api/v2/profiles/" + profileIds[orgId];
        const auto legacyConnectivity = server.call("GET", legacyPath + "/salesforce-connectivity", legacyToken);
        ASSERT_EQ(legacyConnectivity.status, 200) << legacyConnectivity.body;
        const auto connectivity = legacyConnectivity.json()->getObject("data");
        const auto modernConnectivity = server.call("GET", modernPath + "/connectivity", support);
        ASSERT_EQ(modernConnectivity.status, 200) << modernConnectivity.body;
        const auto crm = modernConnectivity.json()->getObject("crm");

        const bool established = legacy.manifest.has(orgId, LegacyCase::Established) ||
                                 legacy.manifest.has(orgId, LegacyCase::EstablishedUnderOldKey);
        const bool lost = legacy.manifest.has(orgId, LegacyCase::Lost);
        const std::string legacyStatus = established ? "Established" : lost ? "Lost" : "NotConnected";
        const std::string modernStatus = established ? "Connected" : lost ? "Disconnected" : "NotConnected";
        statusesSeen.insert(legacyStatus);
        EXPECT_EQ(connectivity->getValue<std::int64_t>("orgId"), orgId);
        EXPECT_EQ(connectivity->getValue<std::string>("connectionStatus"), legacyStatus);
        EXPECT_EQ(crm->getValue<std::string>("status"), modernStatus);

        const auto row = rows.connectivity.find(orgId);
        const LegacyConnectivityRow legacyRow = row == rows.connectivity.end() ? LegacyConnectivityRow{} : row->second;
        EXPECT_EQ(connectivity->getValue<bool>("loginUsingServiceAccount"), legacyRow.toggle);
        EXPECT_EQ(nullableField(connectivity, "environment"), environmentName(legacyRow.environmentLetter));
        EXPECT_EQ(nullableField(crm, "environment"), environmentName(legacyRow.environmentLetter));
        if (established || lost) {
            EXPECT_EQ(nullableField(connectivity, "serviceAccountUserId"), id18(legacyRow.serviceAccountUserId));
            EXPECT_EQ(nullableField(connectivity, "serviceAccountUsername"), legacyRow.serviceAccountUsername);
            EXPECT_EQ(nullableField(connectivity, "statusChangedAt"), legacyRow.statusChangedAt);
            const auto account = crm->getObject("serviceAccount");
            ASSERT_TRUE(account);
            EXPECT_EQ(nullableField(account, "userId"), id18(legacyRow.serviceAccountUserId));
            EXPECT_EQ(nullableField(account, "organizationId"), id18(legacyRow.salesforceOrgId));
            EXPECT_EQ(nullableField(account, "username"), legacyRow.serviceAccountUsername);
            ASSERT_TRUE(legacyRow.statusChangedAt);
            EXPECT_EQ(nullableField(crm, "statusChangedAt"), rfc3339(*legacyRow.statusChangedAt));
        } else {
            EXPECT_TRUE(connectivity->isNull("serviceAccountUserId"));
            EXPECT_TRUE(crm->isNull("serviceAccount"));
        }
        if (lost) {
            const auto dialog = connectivity->getObject("lostDialog");
            ASSERT_TRUE(dialog);
            EXPECT_EQ(dialog->getValue<std::string>("message"), kLostMessage);
            EXPECT_EQ(nullableField(dialog, "reason"), legacyRow.lastError);
            EXPECT_EQ(nullableField(dialog, "since"), legacyRow.statusChangedAt);
            EXPECT_EQ(nullableField(crm, "lastError"), legacyRow.lastError);
        } else {
            EXPECT_TRUE(connectivity->isNull("lostDialog"));
            EXPECT_TRUE(crm->isNull("lastError"));
        }
        if (established) {
            EXPECT_EQ(nullableField(crm, "connectedAt"), rfc3339(*legacyRow.statusChangedAt));
        }

        // Users: the legacy ids, the older of two case twins left out, suspended ones red with their reason.
        std::vector<LegacyUserRow> expectedUsers;
        for (const auto& user : rows.users.at(orgId)) {
            if (superseded.count(user.id) == 0) expectedUsers.push_back(user);
        }
        const auto legacyUsers = server.call("GET", legacyPath + "/users?offset=0&limit=500", legacyToken);
        ASSERT_EQ(legacyUsers.status, 200) << legacyUsers.body;
        const auto legacyData = legacyUsers.json()->getObject("data");
        EXPECT_EQ(legacyData->getValue<std::int64_t>("total"), static_cast<std::int64_t>(expectedUsers.size()));
        const auto legacyItems = legacyData->getArray("users");
        const auto modernUsers = server.call("GET", modernPath + "/users?limit=500", support);
        ASSERT_EQ(modernUsers.status, 200) << modernUsers.body;
        const auto modernItems = modernUsers.json()->getArray("items");
        ASSERT_EQ(legacyItems->size(), expectedUsers.size());
        ASSERT_EQ(modernItems->size(), expectedUsers.size());
        for (std::size_t i = 0; i < expectedUsers.size(); ++i) {
            const auto& expected = expectedUsers[i];
            SCOPED_TRACE("user " + std::to_string(expected.id));
            const auto legacyUser = legacyItems->getObject(static_cast<unsigned>(i));
            EXPECT_EQ(legacyUser->getValue<std::int64_t>("id"), expected.id);
            EXPECT_EQ(legacyUser->getValue<std::string>("email"), expected.email);
            EXPECT_EQ(nullableField(legacyUser, "displayName"), expected.displayName);
            EXPECT_EQ(legacyUser->getValue<bool>("active"), expected.active);
            EXPECT_EQ(legacyUser->getValue<bool>("syncSuspended"), expected.suspended);
            EXPECT_EQ(nullableField(legacyUser, "highlight"),
                      expected.suspended ? std::optional<std::string>("red") : std::nullopt);
            const auto modernUser = modernItems->getObject(static_cast<unsigned>(i));
            EXPECT_EQ(modernUser->getValue<std::int64_t>("legacyUserId"), expected.id);
            EXPECT_EQ(modernUser->getValue<std::string>("email"), expected.email);
            EXPECT_EQ(modernUser->getValue<bool>("active"), expected.active);
            EXPECT_EQ(nullableField(modernUser, "salesforceUserId"), id18(expected.salesforceUserId));
            const auto synchronization = modernUser->getObject("synchronization");
            EXPECT_EQ(synchronization->getValue<std::string>("status"), expected.suspended ? "Disabled" : "Enabled");
            EXPECT_EQ(nullableField(synchronization, "reason"), expected.suspended ? expected.syncError : std::nullopt);
            if (expected.suspended) {
                const auto one = server.call("GET", legacyPath + "/users/" + std::to_string(expected.id), legacyToken);
                ASSERT_EQ(one.status, 200) << one.body;
                ASSERT_TRUE(expected.syncError);
                EXPECT_EQ(nullableField(one.json()->getObject("data"), "notification"), expected.syncError);
            }
        }
    }
    // The dirty cases the checks above are about were all there.
    EXPECT_EQ(statusesSeen, (std::set<std::string>{"Established", "Lost", "NotConnected"}));
    EXPECT_FALSE(legacy.manifest.suspendedUsers.empty());
    EXPECT_FALSE(legacy.liveWith(LegacyCase::LowerCaseEnvironment).empty());
    EXPECT_FALSE(legacy.liveWith(LegacyCase::FifteenCharacterIds).empty());
    EXPECT_FALSE(superseded.empty());

    // What did not migrate is not there: soft-deleted organizations, superseded twins.
    for (const auto orgId : legacy.manifest.organizationsWith(LegacyCase::SoftDeleted)) {
        const auto answer = server.call(
            "GET", "/legacy/api/organizations/" + std::to_string(orgId) + "/salesforce-connectivity", support);
        EXPECT_EQ(answer.status, 404) << orgId;
    }
    for (const auto& twin : legacy.manifest.caseTwins) {
        if (!legacy.live(twin.orgId)) continue;
        const auto answer = server.call(
            "GET",
            "/legacy/api/organizations/" + std::to_string(twin.orgId) + "/users/" + std::to_string(twin.olderUserId),
            support);
        EXPECT_EQ(answer.status, 404) << twin.olderUserId;
    }
}

// --- a migrated token at the stand-in ---

TEST_F(MigrationTest, AMigratedRefreshTokenMintsAccessTokensAtTheStandIn) {
    constexpr std::int64_t kOrgId = 1042;
    constexpr std::int64_t kUserId = 77;
    const std::string store = sqliteStore("broker.db");
    ServerHarness server(serverOver(store));
    auto& salesforce = server.salesforce();
    const auto identity = salesforce.setIdentity({.userId = "005xx000001SvYb",
                                                  .organizationId = "00Dxx0000001gPL",
                                                  .username = "svc-integration@acme.example",
                                                  .email = "svc-integration@acme.example"});

    // The legacy panel's own login, played against the stand-in: the refresh token it would have stored.
    const auto& settings = server.config().salesforce;
    const SalesforceClient client({.clientId = settings.clientId,
                                   .clientSecret = settings.clientSecret,
                                   .productionLoginUrl = settings.productionLoginUrl,
                                   .sandboxLoginUrl = settings.sandboxLoginUrl,
                                   .callbackUrl = settings.callbackUrl,
                                   .timeout = settings.timeout});
    const auto pkce = SalesforceClient::makePkce();
    const std::string redirect = salesforce.followAuthorization(
        client.authorizationUrl(Environment::Production, "legacy-panel-login", pkce.challenge));
    std::string code;
    for (const auto& [name, value] : Poco::URI(redirect).getQueryParameters()) {
        if (name == "code") code = value;
    }
    const auto grant = client.exchangeCode(Environment::Production, code, pkce.verifier);
    ASSERT_TRUE(grant.succeeded());
    ASSERT_TRUE(grant.value().refreshToken);

    const std::string legacyKey = randomBytes(32);
    auto legacy = createLegacyDatabase("standin");
    legacy.tokenKeys = hexOf(legacyKey);
    const auto connection = root(legacy);
    for (const auto& statement : testsupport::LegacyDataGenerator::legacySchemaStatements()) {
        execute(*connection, statement);
    }
    execute(*connection, "INSERT INTO organizations (id, name, created_at) VALUES (" + std::to_string(kOrgId) +
                             ", 'Acme', '2020-01-02 03:04:05')");
    execute(*connection,
            "INSERT INTO org_salesforce_connectivity (org_id, sa_login_enabled, auth_method, sf_environment, "
            "sa_user_id, sa_username, sf_org_id, instance_url, refresh_token_enc, status, status_changed_at) VALUES "
            "(" +
                std::to_string(kOrgId) +
                ", 1, 'oauth', 'P', '005xx000001SvYb', 'svc-integration@acme.example', '00Dxx0000001gPL', '" +
                grant.value().instanceUrl + "', '" + legacyEncrypt(legacyKey, *grant.value().refreshToken) +
                "', 1, '2026-03-14 09:26:53')");
    execute(*connection, "INSERT INTO org_users (id, org_id, email, display_name) VALUES (" + std::to_string(kUserId) +
                             ", " + std::to_string(kOrgId) + ", 'ann@acme.example', 'Ann')");
    const std::string checksum = legacyChecksum(legacy);

    const auto migrated = migrate(legacy, store, 500);
    EXPECT_EQ(migrated.exitStatus, 0);
    EXPECT_EQ(migrated.report, std::vector<std::string>{summaryLine(1, 0, 0)});
    EXPECT_EQ(legacyChecksum(legacy), checksum);

    const std::int64_t refreshesBefore = salesforce.counter("refreshCalls");
    const auto answer = server.call("POST", "/internal/v1/salesforce/access-token", server.syncEngineToken(),
                                    R"({"legacyUserId": )" + std::to_string(kUserId) + R"(, "client": "sync"})");
    ASSERT_EQ(answer.status, 200) << answer.body;
    const auto minted = answer.json();
    EXPECT_FALSE(minted->getValue<std::string>("accessToken").empty());
    EXPECT_EQ(minted->getValue<std::string>("instanceUrl"), grant.value().instanceUrl);
    EXPECT_EQ(minted->getValue<std::string>("serviceAccountUserId"), identity->getValue<std::string>("userId"));
    EXPECT_EQ(salesforce.counter("refreshCalls"), refreshesBefore + 1);
    EXPECT_EQ(server.store().loadConnection(kOrgId).status, ConnectionStatus::Connected);
}

// --- an admin's change while the migrator runs ---

TEST_F(MigrationTest, AConnectionAnAdminChangesWhileTheMigratorRunsStaysAsTheAdminLeftIt) {
    constexpr int kBatchSize = 10;
    constexpr std::string_view kRenamed = " (renamed)";
    const auto legacy =
        generateLegacyDatabase("midway", {.seed = 51, .organizations = 3000, .usersPerOrganization = 3});
    const std::string store = sqliteStore("midway.db");
    ServerHarness server(serverOver(store));
    const std::string support = server.supportToken();

    std::string checksum = legacyChecksum(legacy);
    ASSERT_EQ(migrate(legacy, store, kBatchSize).exitStatus, 3);
    EXPECT_EQ(legacyChecksum(legacy), checksum);

    // The legacy panel went on being used before the final catch-up run: every organization was renamed, so that
    // run rewrites every one of them, the two below well after it started.
    execute(*root(legacy), "UPDATE organizations SET name = CONCAT(name, '" + std::string(kRenamed) + "')");
    checksum = legacyChecksum(legacy);
    const std::int64_t firstOrg = legacy.liveWith(LegacyCase::Established).front();
    const std::int64_t switchedOff = legacy.liveWith(LegacyCase::Established).back();
    const auto suspendedUsers = [&](std::int64_t orgId) {
        std::vector<std::int64_t> suspended;
        for (const auto& user : server.store().listUsersAfter(orgId, 0, 100)) {
            if (user.syncSuspended) suspended.push_back(user.legacyId);
        }
        return suspended;
    };
    std::int64_t reconnected = 0;  // the last lost organization with suspended users
    for (const auto orgId : legacy.liveWith(LegacyCase::Lost)) {
        if (!suspendedUsers(orgId).empty()) reconnected = orgId;
    }
    ASSERT_GT(reconnected, legacy.manifest.organizationRows * 3 / 4);
    ASSERT_GT(switchedOff, legacy.manifest.organizationRows * 3 / 4);
    const auto renamed = [&](std::int64_t orgId) {
        return server.store().findOrganization(orgId)->name.ends_with(kRenamed);
    };
    const auto legacyPath = [](std::int64_t orgId) {
        return "/legacy/api/organizations/" + std::to_string(orgId) + "/salesforce-connectivity";
    };
    const std::string salesforceOrgOfReconnected = server.store().loadConnection(reconnected).salesforceOrgId.value();

    const auto catchUp = startMigrate(legacy, store, kBatchSize);
    const auto deadline = Clock::now() + 30s;
    while (!renamed(firstOrg) && Clock::now() < deadline && catchUp->running()) std::this_thread::sleep_for(5ms);
    ASSERT_TRUE(renamed(firstOrg)) << catchUp->output();

    // Through the legacy panel: one organization's toggle switched off, a lost one connected again.
    const auto put = server.call("PUT", legacyPath(switchedOff), server.orgAdminToken({switchedOff}),
                                 R"({"loginUsingServiceAccount": false})");
    ASSERT_EQ(put.status, 200) << put.body;
    server.salesforce().setIdentity({.userId = "005Hx000003KpQr",
                                     .organizationId = salesforceOrgOfReconnected,
                                     .username = "svc-reconnected@example.test",
                                     .email = "svc-reconnected@example.test"});
    const auto reconnect =
        server.call("POST", legacyPath(reconnected) + "/reconnect", server.orgAdminToken({reconnected}));
    ASSERT_EQ(reconnect.status, 200) << reconnect.body;
    const std::string salesforceRedirect = server.salesforce().followAuthorization(
        reconnect.json()->getObject("data")->getValue<std::string>("authorizationUrl"));
    const std::string& callbackUrl = server.config().salesforce.callbackUrl;
    const auto callback =
        server.call("GET", std::string(kCallbackPath) + salesforceRedirect.substr(callbackUrl.size()), "");
    ASSERT_EQ(callback.status, 302);
    ASSERT_EQ(callback.header("Location"), server.config().panel.legacyReturnUrl + "?connectivity=connected");
    EXPECT_EQ(suspendedUsers(reconnected), std::vector<std::int64_t>{}) << "the login lifts the loss's suspensions";
    // Only meaningful if the migrator has not reached them yet: it rewrites them after the admin's changes.
    ASSERT_FALSE(renamed(switchedOff));
    ASSERT_FALSE(renamed(reconnected));

    // Through both panels: the switched-off organization as the admin left it, the reconnected one connected with
    // the new account and none of its users red or disabled any more.
    const auto expectTheAdminsChanges = [&] {
        const auto off = server.call("GET", legacyPath(switchedOff), server.orgAdminToken({switchedOff}));
        ASSERT_EQ(off.status, 200) << off.body;
        const auto offData = off.json()->getObject("data");
        EXPECT_FALSE(offData->getValue<bool>("loginUsingServiceAccount"));
        EXPECT_EQ(offData->getValue<std::string>("connectionStatus"), "NotConnected");
        const auto on = server.call("GET", legacyPath(reconnected), server.orgAdminToken({reconnected}));
        ASSERT_EQ(on.status, 200) << on.body;
        const auto onData = on.json()->getObject("data");
        EXPECT_EQ(onData->getValue<std::string>("connectionStatus"), "Established");
        EXPECT_EQ(onData->getValue<std::string>("serviceAccountUsername"), "svc-reconnected@example.test");

        const auto legacyUsers =
            server.call("GET", "/legacy/api/organizations/" + std::to_string(reconnected) + "/users?offset=0&limit=500",
                        server.orgAdminToken({reconnected}));
        ASSERT_EQ(legacyUsers.status, 200) << legacyUsers.body;
        const auto legacyItems = legacyUsers.json()->getObject("data")->getArray("users");
        for (const auto& entry : *legacyItems) {
            const auto user = entry.extract<Poco::JSON::Object::Ptr>();
            EXPECT_TRUE(user->isNull("highlight")) << "user " << user->getValue<std::int64_t>("id");
        }
        const auto modernUsers = server.call(
            "GET", "/api/v2/profiles/" + server.store().findOrganization(reconnected)->publicId() + "/users?limit=500",
            support);
        ASSERT_EQ(modernUsers.status, 200) << modernUsers.body;
        const auto modernItems = modernUsers.json()->getArray("items");
        for (const auto& entry : *modernItems) {
            const auto user = entry.extract<Poco::JSON::Object::Ptr>();
            EXPECT_EQ(user->getObject("synchronization")->getValue<std::string>("status"), "Enabled")
                << "user " << user->getValue<std::int64_t>("legacyUserId");
        }
    };

    const auto caughtUp = finish(*catchUp);
    EXPECT_EQ(caughtUp.exitStatus, 3);
    const std::size_t skipped = caughtUp.skippedLines().size();
    EXPECT_EQ(caughtUp.summary(), summaryLine(legacy.liveOrganizationCount(), 0, skipped));
    EXPECT_EQ(legacyChecksum(legacy), checksum);
    EXPECT_TRUE(renamed(switchedOff));
    EXPECT_TRUE(renamed(reconnected));
    expectTheAdminsChanges();

    const auto again = migrate(legacy, store, kBatchSize);
    EXPECT_EQ(again.exitStatus, 3);
    EXPECT_EQ(again.summary(), summaryLine(0, legacy.liveOrganizationCount(), skipped));
    EXPECT_EQ(legacyChecksum(legacy), checksum);
    expectTheAdminsChanges();
}

}  // namespace
}  // namespace bridge::testing
