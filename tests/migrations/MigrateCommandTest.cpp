#include <cppconn/connection.h>
#include <cppconn/statement.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "bridge/crypto/Secrets.h"
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
