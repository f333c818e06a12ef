#include <cppconn/connection.h>
#include <cppconn/statement.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bridge/crypto/Secrets.h"
#include "bridge/store/StoreFactory.h"
#include "mappings/ConnectionNames.h"
#include "migrations/MigrateCommand.h"
#include "testsupport/LegacyDataGenerator.h"
#include "testsupport/LegacyDatabase.h"
#include "testsupport/MariaDbServer.h"
#include "testsupport/TestDirectory.h"

namespace bridge::migrations {
namespace {

class MigrateCommandTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = new testsupport::MariaDbServer();
        manifest_ = new testsupport::LegacyDataManifest(
            testsupport::createLegacyDatabase(*server_, {.seed = 5, .organizations = 40, .usersPerOrganization = 2}));
        server_->createDatabase("clean");
        server_->createReadOnlyUser("clean_reader", "secret", "clean");
        auto clean = server_->connectAsRoot("clean");
        for (const auto& statement : testsupport::LegacyDataGenerator::legacySchemaStatements()) {
            std::unique_ptr<sql::Statement>(clean->createStatement())->execute(statement);
        }
        std::unique_ptr<sql::Statement>(clean->createStatement())
            ->execute("INSERT INTO organizations (id, name, created_at) VALUES (1, 'Acme', '2020-01-01 00:00:00')");
        std::unique_ptr<sql::Statement>(clean->createStatement())
            ->execute("INSERT INTO org_users (id, org_id, email) VALUES (7, 1, 'ann@acme.example')");
    }
    static void TearDownTestSuite() {
        delete manifest_;
        delete server_;
    }

    void SetUp() override {
        directory_ = testsupport::freshTestDirectory("bridge-migrate-command");
        config_.store.dsn = "sqlite:" + (directory_ / "store.db").string();
        config_.crypto.keys = "k1:" + base64Encode(std::string(32, 'k'));
        config_.legacy.dsn = server_->dsn("legacy", "reader", "secret");
        config_.legacy.tokenKeys = manifest_->tokenKeys;
        config_.migrate.batchSize = 6;
    }
    void TearDown() override { std::filesystem::remove_all(directory_); }

    int run(bool verify) {
        return run({.mode = verify ? MigrateRequest::Mode::Verify : MigrateRequest::Mode::Migrate});
    }
    int run(const MigrateRequest& request) {
        out_.str("");
        err_.str("");
        return runMigrateCommand(config_, request, out_, err_);
    }

    std::vector<std::string> outputLines() const {
        std::vector<std::string> all;
        std::istringstream stream(out_.str());
        for (std::string line; std::getline(stream, line);) all.push_back(line);
        return all;
    }
    // The report lines that name an organization, with the id that follows "organization " in them.
    std::set<std::int64_t> organizationsNamed() const {
        std::set<std::int64_t> ids;
        for (const auto& line : outputLines()) {
            const auto at = line.find("organization ");
            if (at != std::string::npos) ids.insert(std::stoll(line.substr(at + 13)));
        }
        return ids;
    }
    std::vector<std::string> skippedLines() const {
        std::vector<std::string> skipped;
        for (const auto& line : outputLines()) {
            if (line.rfind("skipped ", 0) == 0) skipped.push_back(line);
        }
        return skipped;
    }

    // The store's organizations and how many users it holds; nullopt when the store has no schema.
    struct StoreCounts {
        std::set<std::int64_t> organizations;
        std::int64_t users = 0;
        bool operator==(const StoreCounts&) const = default;
    };
    StoreCounts storeCounts() const {
        const auto store = openStore(config_.store.dsn, 1);
        StoreCounts counts;
        OrganizationScope everything;
        everything.all = true;
        for (std::int64_t after = 0;;) {
            const auto page = store->listOrganizations(everything, after, 500);
            if (page.empty()) break;
            for (const auto& organization : page) {
                counts.organizations.insert(organization.legacyId);
                counts.users += store->countUsers(organization.legacyId);
            }
            after = page.back().legacyId;
        }
        return counts;
    }

    // The pilot of the staged-run tests: organizations of every kind a pilot may hold, a soft-deleted one too.
    static std::vector<std::int64_t> pilot() {
        const std::set<std::int64_t> ids{
            manifest_->organizationsWith(testsupport::LegacyCase::Established).front(),
            manifest_->organizationsWith(testsupport::LegacyCase::Lost).front(),
            manifest_->organizationsWith(testsupport::LegacyCase::TokenUnderUnknownKey).front(),
            manifest_->organizationsWith(testsupport::LegacyCase::SoftDeleted).front(),
            manifest_->caseTwins.front().orgId};
        return {ids.begin(), ids.end()};
    }
    static std::set<std::int64_t> livePilot() {
        std::set<std::int64_t> live;
        for (const auto id : pilot()) {
            if (!manifest_->has(id, testsupport::LegacyCase::SoftDeleted)) live.insert(id);
        }
        return live;
    }
    static OrganizationSelection selectionOf(const std::vector<std::int64_t>& ids) {
        std::string list;
        for (const auto id : ids) list.append(list.empty() ? "" : ",").append(std::to_string(id));
        return OrganizationSelection::fromList(list);
    }
    static std::int64_t liveOrganizations() {
        return manifest_->organizationRows -
               static_cast<std::int64_t>(manifest_->organizationsWith(testsupport::LegacyCase::SoftDeleted).size());
    }

    // A staged run of the pilot, then a full run, then a full verification, on the configured store.
    void stagedThenFullRun() {
        const auto selection = selectionOf(pilot());
        EXPECT_EQ(run({.mode = MigrateRequest::Mode::Migrate, .selection = selection}), 3) << out_.str() << err_.str();
        const auto live = livePilot();
        EXPECT_EQ(lastLine(), "migrated " + std::to_string(live.size()) + ", already current 0, skipped " +
                                  std::to_string(skippedLines().size()) + ", failed 0");
        auto named = organizationsNamed();
        for (const auto id : pilot()) named.erase(id);
        EXPECT_TRUE(named.empty()) << "lines about organizations outside the pilot:\n" << out_.str();
        EXPECT_EQ(storeCounts().organizations, live);

        // The pilot is what a migration gives; the rest is missing.
        EXPECT_EQ(run({.mode = MigrateRequest::Mode::Verify, .selection = selection}), 0) << out_.str();
        EXPECT_EQ(out_.str(), "verified " + std::to_string(pilot().size()) + " organizations, differences 0\n");
        EXPECT_EQ(run(true), 1);

        // The full run finds the pilot migrated and unchanged.
        EXPECT_EQ(run(false), 3) << out_.str();
        EXPECT_EQ(lastLine(), "migrated " +
                                  std::to_string(liveOrganizations() - static_cast<std::int64_t>(live.size())) +
                                  ", already current " + std::to_string(live.size()) + ", skipped " +
                                  std::to_string(skippedLines().size()) + ", failed 0");
        EXPECT_EQ(run(true), 0) << out_.str();
    }

    std::string lastLine() const {
        std::string text = out_.str();
        text.pop_back();
        return text.substr(text.rfind('\n') + 1);
    }

    static testsupport::MariaDbServer* server_;
    static testsupport::LegacyDataManifest* manifest_;
    std::filesystem::path directory_;
    Config config_;
    std::ostringstream out_;
    std::ostringstream err_;
};

testsupport::MariaDbServer* MigrateCommandTest::server_ = nullptr;
testsupport::LegacyDataManifest* MigrateCommandTest::manifest_ = nullptr;

TEST_F(MigrateCommandTest, DirtyDataMigratesWithExitCode3AndVerifiesClean) {
    EXPECT_EQ(run(false), 3);
    EXPECT_EQ(lastLine().rfind("migrated ", 0), 0u) << out_.str();
    EXPECT_EQ(run(false), 3);
    EXPECT_EQ(lastLine().find("migrated 0, already current "), 0u) << out_.str();
    EXPECT_EQ(run(true), 0) << out_.str();
    EXPECT_EQ(out_.str(), "verified 40 organizations, differences 0\n");
}

TEST_F(MigrateCommandTest, MigratesIntoAMariaDbStoreAsWell) {
    server_->createDatabase("store");
    server_->createUser("store_writer", "secret", "store");
    config_.store.dsn = server_->dsn("store", "store_writer", "secret");
    EXPECT_EQ(run(false), 3) << err_.str();
    EXPECT_EQ(lastLine().rfind("migrated ", 0), 0u) << out_.str();
    EXPECT_EQ(run(false), 3);
    EXPECT_EQ(lastLine().find("migrated 0, already current "), 0u) << out_.str();
    EXPECT_EQ(run(true), 0) << out_.str();
}

TEST_F(MigrateCommandTest, CleanDataMigratesWithExitCode0) {
    config_.legacy.dsn = server_->dsn("clean", "clean_reader", "secret");
    EXPECT_EQ(run(false), 0) << out_.str() << err_.str();
    EXPECT_EQ(out_.str(), "migrated 1, already current 0, skipped 0, failed 0\n");
}

TEST_F(MigrateCommandTest, VerifyOfAnUnmigratedStoreExits1) {
    EXPECT_EQ(run(true), 1);
    EXPECT_NE(out_.str().find("difference in organization 1: missing from the store"), std::string::npos);
}

// --- staged runs ---

TEST_F(MigrateCommandTest, AStagedRunMigratesOnlyThePilotAndAFullRunFindsItAlreadyCurrent) { stagedThenFullRun(); }

TEST_F(MigrateCommandTest, AStagedRunIntoAMariaDbStoreAsWell) {
    server_->createDatabase("staged_store");
    server_->createUser("staged_writer", "secret", "staged_store");
    config_.store.dsn = server_->dsn("staged_store", "staged_writer", "secret");
    stagedThenFullRun();
}

TEST_F(MigrateCommandTest, AStagedRunReportsWhatItReportsInAFullRun) {
    const auto selection = selectionOf(pilot());
    EXPECT_EQ(run(false), 3);
    std::vector<std::string> expected;
    for (const auto& line : skippedLines()) {
        for (const auto id : pilot()) {
            if (line.find("organization " + std::to_string(id) + ":") != std::string::npos) expected.push_back(line);
        }
    }
    ASSERT_FALSE(expected.empty());
    std::filesystem::remove(directory_ / "store.db");
    EXPECT_EQ(run({.mode = MigrateRequest::Mode::Migrate, .selection = selection}), 3);
    EXPECT_EQ(skippedLines(), expected);
}

TEST_F(MigrateCommandTest, ASelectedIdTheLegacyDatabaseLacksIsAWarningNotAFailure) {
    config_.legacy.dsn = server_->dsn("clean", "clean_reader", "secret");
    const auto selection = OrganizationSelection::fromList("1,5,4294967295");
    EXPECT_EQ(run({.mode = MigrateRequest::Mode::Migrate, .selection = selection}), 0) << out_.str() << err_.str();
    EXPECT_EQ(out_.str(),
              "not found organization 5: selected, but the legacy database has no row of it\n"
              "not found organization 4294967295: selected, but the legacy database has no row of it\n"
              "migrated 1, already current 0, skipped 0, failed 0\n");
    EXPECT_EQ(run({.mode = MigrateRequest::Mode::Verify, .selection = selection}), 0) << out_.str();
    EXPECT_EQ(out_.str(),
              "not found organization 5: selected, but the legacy database has no row of it\n"
              "not found organization 4294967295: selected, but the legacy database has no row of it\n"
              "verified 1 organizations, differences 0\n");
}

TEST_F(MigrateCommandTest, VerifyOfASelectionComparesOnlyTheSelectedOrganizations) {
    const auto live = livePilot();
    const std::int64_t migrated = *live.begin();
    const std::int64_t notMigrated = *live.rbegin();
    EXPECT_EQ(run({.mode = MigrateRequest::Mode::Migrate, .selection = selectionOf({migrated})}), 0) << out_.str();
    EXPECT_EQ(run({.mode = MigrateRequest::Mode::Verify, .selection = selectionOf({migrated, notMigrated})}), 1);
    EXPECT_EQ(out_.str(), "difference in organization " + std::to_string(notMigrated) +
                              ": missing from the store\nverified 2 organizations, differences 1\n");
}

// --- dry runs ---

TEST_F(MigrateCommandTest, ADryRunReportsWhatAMigrationWouldAndCreatesNoStore) {
    EXPECT_EQ(run({.mode = MigrateRequest::Mode::DryRun}), 3) << err_.str();
    EXPECT_FALSE(std::filesystem::exists(directory_ / "store.db")) << "a dry run opened the store";
    const auto dryLines = outputLines();
    const auto drySkipped = skippedLines();
    std::int64_t wouldMigrate = 0;
    for (const auto& line : dryLines) {
        if (line.rfind("would migrate organization ", 0) == 0) ++wouldMigrate;
    }
    EXPECT_EQ(wouldMigrate, liveOrganizations());
    EXPECT_EQ(dryLines.back(), "dry run: would migrate " + std::to_string(liveOrganizations()) + ", skipped " +
                                   std::to_string(drySkipped.size()) + ", nothing written");
    const std::string dryReport = out_.str();

    // Every dirty row the migration then reports, the dry run reported, in the same order; and what it said an
    // organization would become is what it became.
    EXPECT_EQ(run(false), 3);
    EXPECT_EQ(drySkipped, skippedLines());
    EXPECT_FALSE(drySkipped.empty());
    const auto store = openStore(config_.store.dsn, 1);
    for (const auto legacyCase : {testsupport::LegacyCase::Established, testsupport::LegacyCase::Lost,
                                  testsupport::LegacyCase::TokenNotBase64}) {
        const auto& ids = manifest_->organizationsWith(legacyCase);
        const std::int64_t orgId = *std::find_if(ids.begin(), ids.end(), [](std::int64_t id) {
            return !manifest_->has(id, testsupport::LegacyCase::SoftDeleted);
        });
        const std::string status = legacyCase == testsupport::LegacyCase::Established ? "Established"
                                   : legacyCase == testsupport::LegacyCase::Lost      ? "Lost"
                                                                                      : "NotConnected";
        ASSERT_EQ(std::string(mappings::legacyStatusName(store->loadConnection(orgId).status)), status);
        const std::string line = "would migrate organization " + std::to_string(orgId) + ": " +
                                 std::to_string(store->countUsers(orgId)) + " users, connection " + status + "\n";
        EXPECT_NE(dryReport.find(line), std::string::npos) << line << "missing from:\n" << dryReport;
    }
}

TEST_F(MigrateCommandTest, ADryRunOfAStoreThatHoldsAPilotChangesNothingInIt) {
    EXPECT_EQ(run({.mode = MigrateRequest::Mode::Migrate, .selection = selectionOf(pilot())}), 3);
    const auto before = storeCounts();
    ASSERT_EQ(before.organizations, livePilot());
    const auto file = directory_ / "store.db";
    const auto bytes = std::filesystem::file_size(file);
    const auto written = std::filesystem::last_write_time(file);
    EXPECT_EQ(run({.mode = MigrateRequest::Mode::DryRun}), 3);
    EXPECT_EQ(lastLine(), "dry run: would migrate " + std::to_string(liveOrganizations()) + ", skipped " +
                              std::to_string(skippedLines().size()) + ", nothing written");
    EXPECT_EQ(run({.mode = MigrateRequest::Mode::DryRun, .selection = selectionOf(pilot())}), 3);
    EXPECT_EQ(lastLine(), "dry run: would migrate " + std::to_string(livePilot().size()) + ", skipped " +
                              std::to_string(skippedLines().size()) + ", nothing written");
    EXPECT_EQ(std::filesystem::file_size(file), bytes);
    EXPECT_EQ(std::filesystem::last_write_time(file), written);
    EXPECT_EQ(storeCounts(), before);
}

TEST_F(MigrateCommandTest, AnUnreachableLegacyDatabaseExits1) {
    config_.legacy.dsn = "mysql://reader:secret@127.0.0.1:1/legacy";
    EXPECT_EQ(run(false), 1);
    EXPECT_NE(err_.str().find("mysql://reader@127.0.0.1:1/legacy"), std::string::npos) << err_.str();
    EXPECT_EQ(err_.str().find("secret"), std::string::npos) << err_.str();
}

TEST_F(MigrateCommandTest, UnusableConfigurationIsAConfigError) {
    Config missingLegacy = config_;
    missingLegacy.legacy.dsn.clear();
    EXPECT_THROW(runMigrateCommand(missingLegacy, {}, out_, err_), ConfigError);
    Config badKeys = config_;
    badKeys.legacy.tokenKeys = "abc";
    EXPECT_THROW(runMigrateCommand(badKeys, {}, out_, err_), ConfigError);
    Config noStoreKeys = config_;
    noStoreKeys.crypto.keys.clear();
    EXPECT_THROW(runMigrateCommand(noStoreKeys, {}, out_, err_), ConfigError);
    Config badBatch = config_;
    badBatch.migrate.batchSize = 0;
    EXPECT_THROW(runMigrateCommand(badBatch, {}, out_, err_), ConfigError);
}

}  // namespace
}  // namespace bridge::migrations
