#include <cppconn/connection.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>

#include "bridge/base/Logging.h"
#include "bridge/crypto/Secrets.h"
#include "bridge/crypto/TokenCipher.h"
#include "bridge/store/StoreFactory.h"
#include "mappings/SalesforceIds.h"
#include "migrations/LegacyMigrator.h"
#include "migrations/LegacyVerifier.h"
#include "migrations/SchemaCatalog.h"
#include "testsupport/LegacyDataGenerator.h"
#include "testsupport/LegacyDatabase.h"
#include "testsupport/MariaDbServer.h"
#include "testsupport/TestDirectory.h"

namespace bridge::migrations {
namespace {

using testsupport::LegacyCase;

constexpr std::int64_t kOrganizations = 80;
constexpr int kUsersPerOrganization = 4;
constexpr std::uint64_t kSeed = 11;
constexpr std::int64_t kFirstNewLegacyId = 2000000000;

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> all;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);) all.push_back(line);
    return all;
}

// A user's every field, to compare users the store held before and after a run.
std::string describe(const User& user) {
    std::ostringstream out;
    out << user.legacyId << '|' << user.orgId << '|' << user.email << '|' << user.displayName.value_or("<none>") << '|'
        << user.salesforceUserId.value_or("<none>") << '|' << user.active << user.syncSuspended << user.suspendedByLoss
        << '|' << user.suspendReason.value_or("<none>");
    return out.str();
}

std::vector<std::string> describe(const std::vector<User>& users) {
    std::vector<std::string> described;
    for (const auto& user : users) described.push_back(describe(user));
    return described;
}

// What a component logs while it is in scope, on top of its usual standard error.
class CapturedLog {
public:
    explicit CapturedLog(std::string_view component)
        : log_(logger(component)), sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(text_)) {
        log_->sinks().push_back(sink_);
    }
    ~CapturedLog() {
        auto& sinks = log_->sinks();
        sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
    }
    CapturedLog(const CapturedLog&) = delete;
    CapturedLog& operator=(const CapturedLog&) = delete;

    std::string text() const { return text_.str(); }

private:
    std::ostringstream text_;
    std::shared_ptr<spdlog::logger> log_;
    std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

std::string conflictLine(std::int64_t orgId) {
    return "skipped organization " + std::to_string(orgId) +
           ": conflict: its id, one of its users' ids or one of its users' emails is held by data the migrator did "
           "not create";
}

class LegacyMigratorTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = new testsupport::MariaDbServer();
        manifest_ = new testsupport::LegacyDataManifest(testsupport::createLegacyDatabase(
            *server_, {.seed = kSeed, .organizations = kOrganizations, .usersPerOrganization = kUsersPerOrganization}));
    }
    static void TearDownTestSuite() {
        delete manifest_;
        delete server_;
    }

    void SetUp() override {
        directory_ = testsupport::freshTestDirectory("bridge-migrator-test");
        store_ = openStore("sqlite:" + (directory_ / "store.db").string(), 2);
        upgradeSchema(*store_);
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(directory_);
    }

    MigrationSummary migrate(std::string& report, int batchSize = 9) {
        LegacyReader reader(MySqlDsn::parse(server_->dsn("legacy", "reader", "secret"), "legacy.dsn"), batchSize);
        const LegacyOrganizationTranslator translator(decryptor_, cipher_, 1700000000);
        MigrationProgress progress(reader.countOrganizations(), MigrationProgress::Style::PeriodicLines,
                                   [&](std::string_view line) { progressLines_.emplace_back(line); });
        std::ostringstream out;
        auto summary = LegacyMigrator(*store_, translator, out, logger("migrate")).run(reader, progress);
        report = out.str();
        return summary;
    }

    // A run that reports exactly one conflict, the organization's, decided by the batch write itself: no fallback
    // to one-by-one writes (which the migrator logs as "batch write failed") and no failed organization.
    MigrationSummary migrateWithOneConflict(std::int64_t orgId, std::string& report) {
        MigrationSummary summary;
        std::string warnings;
        {
            const CapturedLog log("migrate");
            summary = migrate(report);
            warnings = log.text();
        }
        const auto printed = lines(report);
        EXPECT_EQ(std::count(printed.begin(), printed.end(), conflictLine(orgId)), 1) << report;
        EXPECT_EQ(report.find("failed organization"), std::string::npos) << report;
        EXPECT_EQ(warnings.find("batch write failed"), std::string::npos) << warnings;
        return summary;
    }

    VerificationSummary verify(std::string& report) {
        LegacyReader reader(MySqlDsn::parse(server_->dsn("legacy", "reader", "secret"), "legacy.dsn"), 13);
        const LegacyOrganizationTranslator translator(decryptor_, cipher_, 1700000000);
        MigrationProgress progress(reader.countOrganizations(), MigrationProgress::Style::PeriodicLines,
                                   [](std::string_view) {});
        std::ostringstream out;
        auto summary = LegacyVerifier(*store_, translator, cipher_, kFirstNewLegacyId, out).run(reader, progress);
        report = out.str();
        return summary;
    }

    // Every line a migration of the generated database must print, the summary aside.
    static std::multiset<std::string> expectedSkipLines() {
        std::multiset<std::string> expected;
        const auto deleted = [](std::int64_t id) { return manifest_->has(id, LegacyCase::SoftDeleted); };
        for (auto id : manifest_->organizationsWith(LegacyCase::SoftDeleted)) {
            expected.insert("skipped organization " + std::to_string(id) + ": soft-deleted");
        }
        const std::pair<LegacyCase, std::string> connectionSkips[] = {
            {LegacyCase::TokenNull, "no token"},
            {LegacyCase::TokenEmpty, "no token"},
            {LegacyCase::TokenNotBase64, "token is not base64"},
            {LegacyCase::TokenUnderUnknownKey, "no legacy key decrypts the token"},
        };
        for (const auto& [legacyCase, reason] : connectionSkips) {
            for (auto id : manifest_->organizationsWith(legacyCase)) {
                if (!deleted(id)) {
                    expected.insert("skipped connection of organization " + std::to_string(id) + ": " + reason);
                }
            }
        }
        for (const auto& twin : manifest_->caseTwins) {
            if (!deleted(twin.orgId)) {
                expected.insert("skipped user " + std::to_string(twin.olderUserId) + " of organization " +
                                std::to_string(twin.orgId) + ": superseded by user " +
                                std::to_string(twin.newerUserId));
            }
        }
        return expected;
    }

    static std::set<std::int64_t> orphanIds() {
        std::set<std::int64_t> ids;
        for (auto id : manifest_->organizationsWith(LegacyCase::OrphanConnectivityRow)) ids.insert(id);
        for (auto id : manifest_->organizationsWith(LegacyCase::OrphanUsers)) ids.insert(id);
        return ids;
    }

    static std::int64_t liveOrganizations() {
        return kOrganizations - static_cast<std::int64_t>(manifest_->organizationsWith(LegacyCase::SoftDeleted).size());
    }

    // The first organization of a case that migrates (is not soft-deleted).
    static std::int64_t firstLiveOrganizationWith(LegacyCase legacyCase) {
        for (auto id : manifest_->organizationsWith(legacyCase)) {
            if (!manifest_->has(id, LegacyCase::SoftDeleted)) return id;
        }
        return 0;
    }

    // The ids a query on the legacy database returns in its first column.
    static std::vector<std::int64_t> legacyIds(const std::string& query) {
        auto root = server_->connectAsRoot("legacy");
        std::unique_ptr<sql::Statement> statement(root->createStatement());
        std::unique_ptr<sql::ResultSet> rows(statement->executeQuery(query));
        std::vector<std::int64_t> ids;
        while (rows->next()) ids.push_back(rows->getInt64(1));
        return ids;
    }

    static testsupport::MariaDbServer* server_;
    static testsupport::LegacyDataManifest* manifest_;

    std::filesystem::path directory_;
    std::unique_ptr<Store> store_;
    const TokenCipher cipher_ = TokenCipher::fromSpec("k1:" + base64Encode(std::string(32, 'k')));
    const LegacyTokenDecryptor decryptor_{manifest_->tokenKeys};
    std::vector<std::string> progressLines_;
};

testsupport::MariaDbServer* LegacyMigratorTest::server_ = nullptr;
testsupport::LegacyDataManifest* LegacyMigratorTest::manifest_ = nullptr;

TEST_F(LegacyMigratorTest, ReportsEveryRowItDoesNotMigrateAndEndsWithTheSummary) {
    std::string report;
    const auto summary = migrate(report);
    auto printed = lines(report);
    ASSERT_FALSE(printed.empty());
    const std::string summaryLine = printed.back();
    printed.pop_back();

    std::multiset<std::string> skipLines;
    std::set<std::int64_t> orphansReported;
    for (const auto& line : printed) {
        const std::string orphanPrefix = "skipped organization ";
        if (line.find(": orphan: no organizations row, ") != std::string::npos) {
            orphansReported.insert(std::stoll(line.substr(orphanPrefix.size())));
        } else {
            skipLines.insert(line);
        }
    }
    EXPECT_EQ(skipLines, expectedSkipLines());
    EXPECT_EQ(orphansReported, orphanIds());

    EXPECT_EQ(summary.migrated, liveOrganizations());
    EXPECT_EQ(summary.alreadyCurrent, 0);
    EXPECT_EQ(summary.failed, 0);
    EXPECT_EQ(summary.skipped, static_cast<std::int64_t>(printed.size()));
    EXPECT_EQ(summaryLine, "migrated " + std::to_string(liveOrganizations()) + ", already current 0, skipped " +
                               std::to_string(printed.size()) + ", failed 0");
    EXPECT_EQ(summary.exitCode(), 3);
    ASSERT_FALSE(progressLines_.empty());
    EXPECT_EQ(progressLines_.back().rfind("progress: 80/80 organizations (100%)", 0), 0u) << progressLines_.back();
}

TEST_F(LegacyMigratorTest, LandsEachCaseAsOperationsPromises) {
    std::string report;
    migrate(report);
    const testsupport::LegacyDataGenerator generator({.seed = kSeed, .organizations = 0, .usersPerOrganization = 0});
    const auto deleted = [](std::int64_t id) { return manifest_->has(id, LegacyCase::SoftDeleted); };
    const auto token = [&](const Connection& connection) {
        return cipher_.open(*connection.refreshToken, "org:" + std::to_string(connection.orgId) + ":refresh");
    };

    for (auto id : manifest_->organizationsWith(LegacyCase::SoftDeleted)) {
        EXPECT_FALSE(store_->findOrganization(id)) << id;
    }
    for (auto id : orphanIds()) EXPECT_FALSE(store_->findOrganization(id)) << id;
    for (auto userId : manifest_->orphanUsers) EXPECT_FALSE(store_->findUser(userId)) << userId;

    for (auto legacyCase : {LegacyCase::Established, LegacyCase::EstablishedUnderOldKey}) {
        for (auto id : manifest_->organizationsWith(legacyCase)) {
            if (deleted(id)) continue;
            const auto connection = store_->loadConnection(id);
            EXPECT_EQ(connection.status, ConnectionStatus::Connected) << id;
            ASSERT_TRUE(connection.refreshToken) << id;
            EXPECT_EQ(connection.refreshToken->keyId, "k1");
            EXPECT_EQ(token(connection), generator.refreshTokenOf(id)) << id;
            ASSERT_TRUE(connection.serviceAccountUserId);
            EXPECT_EQ(connection.serviceAccountUserId->size(), 18u);
            EXPECT_EQ(connection.salesforceOrgId->size(), 18u);
            EXPECT_TRUE(connection.environment);
            EXPECT_EQ(connection.connectedAt, connection.statusChangedAt);
        }
    }
    for (auto id : manifest_->organizationsWith(LegacyCase::Lost)) {
        if (deleted(id)) continue;
        const auto connection = store_->loadConnection(id);
        EXPECT_EQ(connection.status, ConnectionStatus::Disconnected) << id;
        ASSERT_TRUE(connection.lastError) << id;
        EXPECT_EQ(connection.lastError->rfind("invalid_grant: ", 0), 0u);
        EXPECT_EQ(token(connection), generator.refreshTokenOf(id));
    }
    for (auto userId : manifest_->suspendedUsers) {
        const auto user = store_->findUser(userId);
        if (!user) continue;  // of a soft-deleted organization, or a superseded twin
        EXPECT_TRUE(user->syncSuspended) << userId;
        EXPECT_TRUE(user->suspendedByLoss) << userId;
        EXPECT_EQ(user->suspendReason, store_->loadConnection(user->orgId).lastError);
    }
    for (auto legacyCase : {LegacyCase::TokenNull, LegacyCase::TokenEmpty, LegacyCase::TokenNotBase64,
                            LegacyCase::TokenUnderUnknownKey, LegacyCase::ToggleOffWithToken,
                            LegacyCase::NeverConnected, LegacyCase::ApiOnlyUser, LegacyCase::NoConnectivityRow}) {
        for (auto id : manifest_->organizationsWith(legacyCase)) {
            if (deleted(id)) continue;
            const auto connection = store_->loadConnection(id);
            EXPECT_EQ(connection.status, ConnectionStatus::NotConnected) << id;
            EXPECT_FALSE(connection.refreshToken) << id;
            EXPECT_FALSE(connection.serviceAccountUserId) << id;
        }
    }
    for (auto id : manifest_->organizationsWith(LegacyCase::ToggleOffWithToken)) {
        if (!deleted(id)) {
            EXPECT_FALSE(store_->loadConnection(id).serviceAccountLoginEnabled) << id;
        }
    }
    for (auto id : manifest_->organizationsWith(LegacyCase::ApiOnlyUser)) {
        if (!deleted(id)) {
            EXPECT_EQ(store_->loadConnection(id).authorizationMethod, "api_only_user") << id;
        }
    }
    for (auto id : manifest_->organizationsWith(LegacyCase::LowerCaseEnvironment)) {
        if (!deleted(id)) {
            EXPECT_TRUE(store_->loadConnection(id).environment) << id;
        }
    }
    for (const auto& twin : manifest_->caseTwins) {
        if (deleted(twin.orgId)) continue;
        EXPECT_FALSE(store_->findUser(twin.olderUserId)) << twin.olderUserId;
        const auto newer = store_->findUser(twin.newerUserId);
        ASSERT_TRUE(newer);
        EXPECT_EQ(newer->orgId, twin.orgId);
    }
    for (auto id : manifest_->organizationsWith(LegacyCase::UnusualName)) {
        if (deleted(id)) continue;
        const auto organization = store_->findOrganization(id);
        ASSERT_TRUE(organization);
        EXPECT_NE(organization->name.find("Organization " + std::to_string(id)), std::string::npos);
        EXPECT_NE(organization->name, "Organization " + std::to_string(id));
    }
    for (auto id : manifest_->organizationsWith(LegacyCase::Established)) {
        if (deleted(id)) continue;
        const auto events = store_->listEvents(id, std::numeric_limits<std::int64_t>::max(), 10);
        ASSERT_EQ(events.size(), 1u) << id;
        EXPECT_EQ(events.front().type, EventType::Migrated);
        EXPECT_EQ(events.front().detail, "legacy Established");
    }
}

TEST_F(LegacyMigratorTest, TokensNeverReachTheReport) {
    std::string report;
    migrate(report);
    const testsupport::LegacyDataGenerator generator({.seed = kSeed, .organizations = 0, .usersPerOrganization = 0});
    for (auto id : manifest_->organizationsWith(LegacyCase::Established)) {
        EXPECT_EQ(report.find(generator.refreshTokenOf(id).substr(0, 20)), std::string::npos);
    }
    EXPECT_EQ(report.find("5Aep861"), std::string::npos);
}

TEST_F(LegacyMigratorTest, ASecondRunFindsEverythingAlreadyCurrentAndReportsTheSame) {
    std::string first;
    migrate(first);
    std::string second;
    const auto summary = migrate(second, 500);
    EXPECT_EQ(summary.migrated, 0);
    EXPECT_EQ(summary.alreadyCurrent, liveOrganizations());
    auto firstLines = lines(first);
    auto secondLines = lines(second);
    firstLines.pop_back();
    secondLines.pop_back();
    EXPECT_EQ(secondLines, firstLines);
}

TEST_F(LegacyMigratorTest, NeverWritesTheLegacyDatabase) {
    auto root = server_->connectAsRoot("legacy");
    const std::string before = testsupport::legacyTableChecksums(*root);
    std::string report;
    migrate(report);
    EXPECT_EQ(testsupport::legacyTableChecksums(*root), before);
}

TEST_F(LegacyMigratorTest, AnIdTheNewPanelHoldsIsAConflictAndTheRestMigrates) {
    const std::int64_t taken = manifest_->organizationsWith(LegacyCase::Established).front();
    ASSERT_EQ(store_->createOrganization("made in the new panel", taken).legacyId, taken);
    std::string report;
    const auto summary = migrate(report);
    EXPECT_NE(report.find("skipped organization " + std::to_string(taken) + ": conflict: "), std::string::npos);
    EXPECT_EQ(store_->findOrganization(taken)->name, "made in the new panel");
    EXPECT_EQ(summary.migrated, liveOrganizations() - 1);
}

// The batch is written whole: a user id held by a user of another organization, created through the new panel,
// keeps out only the organization whose legacy user has that id.
TEST_F(LegacyMigratorTest, AUserIdTheNewPanelHoldsIsAConflictAndTheRestOfTheBatchMigrates) {
    const std::int64_t orgId = firstLiveOrganizationWith(LegacyCase::Established);
    ASSERT_NE(orgId, 0);
    const auto legacyUsers =
        legacyIds("SELECT id FROM org_users WHERE org_id = " + std::to_string(orgId) + " ORDER BY id");
    ASSERT_FALSE(legacyUsers.empty());
    const std::int64_t takenUserId = legacyUsers.front();
    for (const auto& twin : manifest_->caseTwins) ASSERT_NE(twin.olderUserId, takenUserId);

    const auto panelOrganization = store_->createOrganization("made in the new panel", kFirstNewLegacyId);
    ASSERT_EQ(panelOrganization.legacyId, kFirstNewLegacyId);
    NewUser newUser;
    newUser.orgId = panelOrganization.legacyId;
    newUser.email = "panel@example.com";
    newUser.displayName = "Made in the new panel";
    // On a store without users, the first id allocated is the one asked for.
    const User panelUser = store_->createUser(newUser, takenUserId);
    ASSERT_EQ(panelUser.legacyId, takenUserId);

    std::string report;
    const MigrationSummary summary = migrateWithOneConflict(orgId, report);

    EXPECT_FALSE(store_->findOrganization(orgId));
    for (auto userId : legacyUsers) {
        if (userId != takenUserId) {
            EXPECT_FALSE(store_->findUser(userId)) << userId;
        }
    }
    const auto heldUser = store_->findUser(takenUserId);
    ASSERT_TRUE(heldUser);
    EXPECT_EQ(describe(*heldUser), describe(panelUser));
    EXPECT_EQ(store_->countUsers(panelOrganization.legacyId), 1);
    EXPECT_EQ(store_->findOrganization(panelOrganization.legacyId)->name, "made in the new panel");

    EXPECT_EQ(summary.migrated, liveOrganizations() - 1);
    EXPECT_EQ(summary.failed, 0);
    EXPECT_FALSE(summary.abortedBecause);

    // Every other organization migrated, its batch's first of all.
    const auto live = legacyIds("SELECT id FROM organizations WHERE is_deleted = 0 ORDER BY id");
    ASSERT_EQ(static_cast<std::int64_t>(live.size()), liveOrganizations());
    const auto next = std::upper_bound(live.begin(), live.end(), orgId);
    ASSERT_NE(next, live.end());
    EXPECT_TRUE(store_->findOrganization(*next)) << *next;
    EXPECT_GT(store_->countUsers(*next), 0) << *next;
    for (auto id : live) {
        if (id != orgId) {
            EXPECT_TRUE(store_->findOrganization(id)) << id;
        }
    }
}

// A user created through the new panel in a migrated organization keeps its email: a rerun that brings a legacy
// user with that email (in other letter case) leaves the organization as it was and goes on.
TEST_F(LegacyMigratorTest, AnEmailANewPanelUserHoldsInAMigratedOrganizationIsAConflictOnTheRerun) {
    std::string report;
    const auto first = migrate(report);
    ASSERT_EQ(first.migrated, liveOrganizations());
    const std::int64_t orgId = firstLiveOrganizationWith(LegacyCase::Established);
    ASSERT_NE(orgId, 0);
    ASSERT_TRUE(store_->findOrganization(orgId));

    NewUser newUser;
    newUser.orgId = orgId;
    newUser.email = "late@example.com";
    newUser.displayName = "Made in the new panel";
    const User panelUser = store_->createUser(newUser, kFirstNewLegacyId);
    const auto countBefore = store_->countUsers(orgId);
    const auto usersBefore = describe(store_->listUsersAfter(orgId, 0, 1000));
    ASSERT_EQ(static_cast<std::int64_t>(usersBefore.size()), countBefore);

    // The legacy database is shared by the suite's tests: the row goes again however this test ends.
    const std::string lateRow =
        "org_users WHERE org_id = " + std::to_string(orgId) + " AND email = BINARY 'LATE@example.com'";
    auto root = server_->connectAsRoot("legacy");
    std::unique_ptr<sql::Statement>(root->createStatement())
        ->execute(
            "INSERT INTO org_users (org_id, email, display_name, sf_user_id, is_active, sync_state, sync_error) "
            "VALUES (" +
            std::to_string(orgId) + ", 'LATE@example.com', 'Late legacy user', NULL, 1, 'ok', NULL)");
    struct RemoveOnExit {
        sql::Connection& connection;
        const std::string& row;
        ~RemoveOnExit() {
            try {
                std::unique_ptr<sql::Statement>(connection.createStatement())->execute("DELETE FROM " + row);
            } catch (const std::exception& error) {
                ADD_FAILURE() << "could not remove the legacy row again: " << error.what();
            }
        }
    } removeOnExit{*root, lateRow};
    const auto lateUsers = legacyIds("SELECT id FROM " + lateRow);
    ASSERT_EQ(lateUsers.size(), 1u);
    const std::int64_t lateUserId = lateUsers.front();

    const MigrationSummary summary = migrateWithOneConflict(orgId, report);
    EXPECT_EQ(summary.failed, 0);
    EXPECT_FALSE(summary.abortedBecause);
    EXPECT_EQ(summary.migrated, 0);
    EXPECT_EQ(summary.alreadyCurrent, liveOrganizations() - 1);

    const auto heldUser = store_->findUser(panelUser.legacyId);
    ASSERT_TRUE(heldUser);
    EXPECT_EQ(describe(*heldUser), describe(panelUser));
    EXPECT_FALSE(store_->findUser(lateUserId));
    EXPECT_EQ(store_->countUsers(orgId), countBefore);
    EXPECT_EQ(describe(store_->listUsersAfter(orgId, 0, 1000)), usersBefore);

    // --verify agrees with the migrator: a conflict the migrator reports is not a difference.
    std::string verification;
    const auto verified = verify(verification);
    EXPECT_EQ(verified.differences, 0) << verification;
    EXPECT_EQ(verified.exitCode(), 0);
}

TEST_F(LegacyMigratorTest, LeavesAConnectionTheServerChangedAfterTheMigration) {
    std::string report;
    migrate(report);
    const std::int64_t orgId = manifest_->organizationsWith(LegacyCase::Established).front();
    Connection disconnected = store_->loadConnection(orgId);
    const auto version = disconnected.version;
    disconnected.status = ConnectionStatus::NotConnected;
    disconnected.refreshToken.reset();
    ConnectionTransition transition;
    transition.next = disconnected;
    transition.expectedVersion = version;
    ASSERT_TRUE(store_->applyTransition(transition));

    auto root = server_->connectAsRoot("legacy");
    std::unique_ptr<sql::Statement>(root->createStatement())
        ->execute("UPDATE organizations SET name = 'Renamed' WHERE id = " + std::to_string(orgId));
    const auto summary = migrate(report);
    std::unique_ptr<sql::Statement>(root->createStatement())
        ->execute("UPDATE organizations SET name = 'Organization " + std::to_string(orgId) +
                  "' WHERE id = " + std::to_string(orgId));

    EXPECT_EQ(summary.migrated, 1);
    EXPECT_EQ(store_->findOrganization(orgId)->name, "Renamed");
    EXPECT_EQ(store_->loadConnection(orgId).status, ConnectionStatus::NotConnected);
}

TEST_F(LegacyMigratorTest, VerifyFindsNothingAfterAMigrationAndEveryChangeAfterThat) {
    std::string report;
    migrate(report);
    std::string verification;
    auto summary = verify(verification);
    EXPECT_EQ(summary.differences, 0) << verification;
    EXPECT_EQ(summary.exitCode(), 0);
    EXPECT_EQ(lines(verification), std::vector<std::string>{"verified 80 organizations, differences 0"});

    std::int64_t userId = 0;
    for (auto id : manifest_->organizationsWith(LegacyCase::Established)) {
        if (manifest_->has(id, LegacyCase::SoftDeleted)) continue;
        userId = store_->listUsersAfter(id, 0, 1).front().legacyId;
        break;
    }
    UserChanges changes;
    changes.displayName = std::optional<std::string>("Changed");
    store_->updateUser(userId, changes);
    const auto extra = store_->createOrganization("not from legacy", 500000);
    summary = verify(verification);
    EXPECT_EQ(summary.differences, 2) << verification;
    EXPECT_EQ(summary.exitCode(), 1);
    EXPECT_NE(verification.find("difference in user " + std::to_string(userId)), std::string::npos) << verification;
    EXPECT_NE(verification.find("display name is \"Changed\""), std::string::npos) << verification;
    EXPECT_NE(verification.find("difference in organization " + std::to_string(extra.legacyId) +
                                ": in the store but not in the legacy database"),
              std::string::npos)
        << verification;
}

TEST_F(LegacyMigratorTest, VerifyOfAnEmptyStoreMissesEveryMigratableOrganization) {
    std::string verification;
    const auto summary = verify(verification);
    EXPECT_EQ(summary.differences, liveOrganizations());
    EXPECT_EQ(summary.exitCode(), 1);
}

// A run cut short, here by the legacy database going away halfway, leaves whole organizations behind; the next run
// completes the store to exactly what one clean run gives.
// Stops `server` at the run's first progress report (after its first batch); the progress clock always moves on, so
// that every batch reports.
struct StopAtFirstReport {
    testsupport::MariaDbServer& server;
    bool stopped = false;
    MigrationProgress::Clock::time_point fakeNow{};

    MigrationProgress progressFor(LegacyReader& reader) {
        return MigrationProgress(
            reader.countOrganizations(), MigrationProgress::Style::LiveBar,
            [this](std::string_view) {
                if (!stopped) server.stop();
                stopped = true;
            },
            [this] { return fakeNow += std::chrono::seconds(1); });
    }
};

// The report's last line, with its newline.
std::string lastLineOf(const std::string& report) { return report.substr(report.rfind('\n', report.size() - 2) + 1); }

// After a first run that stopped early (`first`), a second run migrates the rest, reports what the first wrote as
// already current, and --verify finds the store equal to what one clean run gives.
void expectARerunCompletesIt(Store& store, const LegacyOrganizationTranslator& translator, const TokenCipher& cipher,
                             const MySqlDsn& dsn, const testsupport::LegacyDataManifest& manifest,
                             const MigrationSummary& first) {
    std::ostringstream secondReport;
    LegacyReader reader(dsn, 20);
    MigrationProgress quiet(reader.countOrganizations(), MigrationProgress::Style::PeriodicLines,
                            [](std::string_view) {});
    const auto second = LegacyMigrator(store, translator, secondReport, logger("migrate")).run(reader, quiet);
    EXPECT_FALSE(second.abortedBecause) << second.abortedBecause.value_or("");
    EXPECT_EQ(second.exitCode(), 3);
    EXPECT_EQ(second.failed, 0);
    const auto live = manifest.organizationRows -
                      static_cast<std::int64_t>(manifest.organizationsWith(LegacyCase::SoftDeleted).size());
    EXPECT_EQ(second.migrated + second.alreadyCurrent, live);
    EXPECT_EQ(second.alreadyCurrent, first.migrated);

    std::ostringstream verification;
    LegacyReader verifyReader(dsn, 50);
    MigrationProgress silent(verifyReader.countOrganizations(), MigrationProgress::Style::PeriodicLines,
                             [](std::string_view) {});
    EXPECT_EQ(LegacyVerifier(store, translator, cipher, kFirstNewLegacyId, verification)
                  .run(verifyReader, silent)
                  .differences,
              0)
        << verification.str();
}

TEST(LegacyMigratorInterruptionTest, ARunStoppedHalfwayAndRunAgainEndsLikeOneCleanRun) {
    testsupport::MariaDbServer server;
    const auto manifest =
        testsupport::createLegacyDatabase(server, {.seed = 21, .organizations = 600, .usersPerOrganization = 3});
    const auto directory = testsupport::freshTestDirectory("bridge-migrator-interruption");
    auto store = openStore("sqlite:" + (directory / "store.db").string(), 2);
    upgradeSchema(*store);
    const auto cipher = TokenCipher::fromSpec("k1:" + base64Encode(std::string(32, 'k')));
    const LegacyTokenDecryptor decryptor(manifest.tokenKeys);
    const LegacyOrganizationTranslator translator(decryptor, cipher, 1700000000);
    const auto dsn = MySqlDsn::parse(server.dsn("legacy", "reader", "secret"), "legacy.dsn");

    std::ostringstream firstReport;
    MigrationSummary first;
    {
        LegacyReader reader(dsn, 20);
        StopAtFirstReport stopLegacy{server};
        MigrationProgress progress = stopLegacy.progressFor(reader);
        first = LegacyMigrator(*store, translator, firstReport, logger("migrate")).run(reader, progress);
    }
    server.start();
    EXPECT_TRUE(first.abortedBecause);
    EXPECT_EQ(first.exitCode(), 1);
    EXPECT_GT(first.migrated, 0);
    EXPECT_LT(first.migrated, 600);
    EXPECT_EQ(lastLineOf(firstReport.str()), first.line() + "\n");

    expectARerunCompletesIt(*store, translator, cipher, dsn, manifest, first);
    store.reset();
    std::filesystem::remove_all(directory);
}

// The store going away for longer than the retry budget ends the run early: the reading and translating steps still
// in flight finish and are joined, the summary comes last, and a rerun once the store is back (through the same store
// object, which reconnects by itself) completes it to exactly what one clean run gives.
TEST(LegacyMigratorInterruptionTest, ARunWhoseStoreStaysAwayStopsInTimeAndARerunCompletesIt) {
    testsupport::MariaDbServer legacyServer;
    const auto manifest =
        testsupport::createLegacyDatabase(legacyServer, {.seed = 23, .organizations = 600, .usersPerOrganization = 3});
    testsupport::MariaDbServer storeServer;
    storeServer.createDatabase("store");
    storeServer.createUser("store_writer", "secret", "store");
    auto store = openStore(storeServer.dsn("store", "store_writer", "secret"), 2);
    upgradeSchema(*store);
    const auto cipher = TokenCipher::fromSpec("k1:" + base64Encode(std::string(32, 'k')));
    const LegacyTokenDecryptor decryptor(manifest.tokenKeys);
    const LegacyOrganizationTranslator translator(decryptor, cipher, 1700000000);
    const auto dsn = MySqlDsn::parse(legacyServer.dsn("legacy", "reader", "secret"), "legacy.dsn");
    constexpr auto kRetryBudget = std::chrono::milliseconds(1500);

    std::ostringstream firstReport;
    MigrationSummary first;
    std::string warnings;
    std::chrono::steady_clock::duration took{};
    {
        LegacyReader reader(dsn, 20);
        StopAtFirstReport stopStore{storeServer};
        MigrationProgress progress = stopStore.progressFor(reader);
        const CapturedLog log("migrate");
        const auto started = std::chrono::steady_clock::now();
        first = LegacyMigrator(*store, translator, firstReport, logger("migrate"), kRetryBudget).run(reader, progress);
        took = std::chrono::steady_clock::now() - started;
        warnings = log.text();
        EXPECT_TRUE(stopStore.stopped);
    }
    ASSERT_FALSE(storeServer.running());
    ASSERT_TRUE(first.abortedBecause);
    EXPECT_NE(first.abortedBecause->find("store"), std::string::npos) << *first.abortedBecause;
    EXPECT_EQ(first.exitCode(), 1);
    EXPECT_GT(first.migrated, 0);
    EXPECT_LT(first.migrated, 600);
    EXPECT_EQ(lastLineOf(firstReport.str()), first.line() + "\n");
    // The budget is short: the run gives up within it, stopping the store's server aside.
    EXPECT_LT(took, std::chrono::seconds(30))
        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
    // It did retry before giving up.
    EXPECT_NE(warnings.find("store unavailable, retrying in"), std::string::npos) << warnings;

    storeServer.start();
    expectARerunCompletesIt(*store, translator, cipher, dsn, manifest, first);
}

}  // namespace
}  // namespace bridge::migrations
