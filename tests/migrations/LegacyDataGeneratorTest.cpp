#include <cppconn/connection.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "mappings/Emails.h"
#include "migrations/LegacyTokenDecryptor.h"
#include "testsupport/LegacyDataGenerator.h"
#include "testsupport/MariaDbServer.h"

namespace bridge::testsupport {
namespace {

constexpr std::int64_t kOrganizations = 60;
constexpr int kUsersPerOrganization = 4;

std::unique_ptr<sql::ResultSet> query(sql::Connection& connection, const std::string& statement) {
    std::unique_ptr<sql::Statement> created(connection.createStatement());
    return std::unique_ptr<sql::ResultSet>(created->executeQuery(statement));
}

std::int64_t scalar(sql::Connection& connection, const std::string& statement) {
    auto rows = query(connection, statement);
    rows->next();
    return rows->getInt64(1);
}

class LegacyDataGeneratorTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = new MariaDbServer();
        server_->createDatabase("legacy");
        connection_ = server_->connectAsRoot("legacy").release();
        manifest_ = new LegacyDataManifest(
            LegacyDataGenerator(
                {.seed = 7, .organizations = kOrganizations, .usersPerOrganization = kUsersPerOrganization})
                .generate(*connection_));
    }
    static void TearDownTestSuite() {
        delete manifest_;
        delete connection_;
        delete server_;
    }

    static MariaDbServer* server_;
    static sql::Connection* connection_;
    static LegacyDataManifest* manifest_;
};

MariaDbServer* LegacyDataGeneratorTest::server_ = nullptr;
sql::Connection* LegacyDataGeneratorTest::connection_ = nullptr;
LegacyDataManifest* LegacyDataGeneratorTest::manifest_ = nullptr;

TEST_F(LegacyDataGeneratorTest, CountsMatchTheTables) {
    EXPECT_EQ(manifest_->organizationRows, kOrganizations);
    EXPECT_EQ(scalar(*connection_, "SELECT COUNT(*) FROM organizations"), manifest_->organizationRows);
    EXPECT_EQ(scalar(*connection_, "SELECT COUNT(*) FROM org_salesforce_connectivity"), manifest_->connectivityRows);
    EXPECT_EQ(scalar(*connection_, "SELECT COUNT(*) FROM org_users"), manifest_->userRows);
}

TEST_F(LegacyDataGeneratorTest, EveryCaseIsPresent) {
    for (int value = 0; value <= static_cast<int>(LegacyCase::OrphanUsers); ++value) {
        const auto legacyCase = static_cast<LegacyCase>(value);
        EXPECT_FALSE(manifest_->organizationsWith(legacyCase).empty()) << legacyCaseName(legacyCase);
    }
    EXPECT_FALSE(manifest_->caseTwins.empty());
    EXPECT_FALSE(manifest_->suspendedUsers.empty());
    EXPECT_FALSE(manifest_->orphanUsers.empty());
}

TEST_F(LegacyDataGeneratorTest, TheManifestDescribesTheRows) {
    for (auto id : manifest_->organizationsWith(LegacyCase::SoftDeleted)) {
        EXPECT_EQ(scalar(*connection_, "SELECT is_deleted FROM organizations WHERE id = " + std::to_string(id)), 1);
    }
    for (auto legacyCase : {LegacyCase::OrphanConnectivityRow, LegacyCase::OrphanUsers}) {
        for (auto id : manifest_->organizationsWith(legacyCase)) {
            EXPECT_EQ(scalar(*connection_, "SELECT COUNT(*) FROM organizations WHERE id = " + std::to_string(id)), 0);
        }
    }
    for (auto id : manifest_->organizationsWith(LegacyCase::OrphanConnectivityRow)) {
        EXPECT_EQ(scalar(*connection_,
                         "SELECT COUNT(*) FROM org_salesforce_connectivity WHERE org_id = " + std::to_string(id)),
                  1);
    }
    for (auto id : manifest_->organizationsWith(LegacyCase::NoConnectivityRow)) {
        EXPECT_EQ(scalar(*connection_,
                         "SELECT COUNT(*) FROM org_salesforce_connectivity WHERE org_id = " + std::to_string(id)),
                  0);
    }
    for (auto id : manifest_->organizationsWith(LegacyCase::LowerCaseEnvironment)) {
        auto rows = query(*connection_, "SELECT sf_environment FROM org_salesforce_connectivity WHERE org_id = " +
                                            std::to_string(id));
        ASSERT_TRUE(rows->next());
        const std::string letter = rows->getString(1);
        EXPECT_TRUE(letter == "p" || letter == "s") << id;
    }
    for (auto id : manifest_->organizationsWith(LegacyCase::FifteenCharacterIds)) {
        if (manifest_->has(id, LegacyCase::NoConnectivityRow)) continue;
        auto rows = query(*connection_,
                          "SELECT sa_user_id FROM org_salesforce_connectivity WHERE org_id = " + std::to_string(id));
        ASSERT_TRUE(rows->next());
        if (!rows->isNull(1)) {
            EXPECT_EQ(std::string(rows->getString(1)).size(), 15u) << id;
        }
    }
    EXPECT_EQ(scalar(*connection_,
                     "SELECT COUNT(*) FROM org_users WHERE sync_state = 'suspended' AND sync_error IS NOT NULL"),
              static_cast<std::int64_t>(manifest_->suspendedUsers.size()));
}

TEST_F(LegacyDataGeneratorTest, CaseTwinsDifferOnlyInLetterCaseAndTheNewerHasTheHigherId) {
    for (const auto& twin : manifest_->caseTwins) {
        auto rows =
            query(*connection_, "SELECT id, email FROM org_users WHERE id IN (" + std::to_string(twin.olderUserId) +
                                    "," + std::to_string(twin.newerUserId) + ") ORDER BY id");
        ASSERT_TRUE(rows->next());
        const std::string older = rows->getString(2);
        ASSERT_TRUE(rows->next());
        const std::string newer = rows->getString(2);
        EXPECT_LT(twin.olderUserId, twin.newerUserId);
        EXPECT_NE(older, newer);
        EXPECT_EQ(mappings::normalizeEmail(older), mappings::normalizeEmail(newer));
    }
}

TEST_F(LegacyDataGeneratorTest, TokensOpenUnderTheManifestKeysExactlyForTheUsableCases) {
    const migrations::LegacyTokenDecryptor decryptor(manifest_->tokenKeys);
    const LegacyDataGenerator generator({.seed = 7, .organizations = 0, .usersPerOrganization = 0});
    const auto tokenOf = [&](std::int64_t id) {
        auto rows = query(*connection_, "SELECT refresh_token_enc FROM org_salesforce_connectivity WHERE org_id = " +
                                            std::to_string(id));
        EXPECT_TRUE(rows->next());
        return rows->isNull(1) ? std::optional<std::string>() : std::optional<std::string>(rows->getString(1));
    };
    for (auto legacyCase : {LegacyCase::Established, LegacyCase::EstablishedUnderOldKey, LegacyCase::Lost,
                            LegacyCase::ToggleOffWithToken}) {
        for (auto id : manifest_->organizationsWith(legacyCase)) {
            EXPECT_EQ(decryptor.decrypt(*tokenOf(id)), generator.refreshTokenOf(id)) << id;
        }
    }
    const migrations::LegacyTokenDecryptor currentKeyOnly(manifest_->currentKeyHex);
    for (auto id : manifest_->organizationsWith(LegacyCase::EstablishedUnderOldKey)) {
        EXPECT_FALSE(currentKeyOnly.decrypt(*tokenOf(id)).has_value()) << id;
    }
    for (auto id : manifest_->organizationsWith(LegacyCase::TokenUnderUnknownKey)) {
        EXPECT_EQ(std::get<migrations::LegacyTokenFailure>(decryptor.decryptOrExplain(*tokenOf(id))),
                  migrations::LegacyTokenFailure::NoKeyDecrypts);
    }
    for (auto id : manifest_->organizationsWith(LegacyCase::TokenNotBase64)) {
        EXPECT_EQ(std::get<migrations::LegacyTokenFailure>(decryptor.decryptOrExplain(*tokenOf(id))),
                  migrations::LegacyTokenFailure::NotBase64);
    }
    for (auto id : manifest_->organizationsWith(LegacyCase::TokenNull)) EXPECT_FALSE(tokenOf(id).has_value());
    for (auto id : manifest_->organizationsWith(LegacyCase::TokenEmpty)) EXPECT_EQ(tokenOf(id), "");
}

TEST_F(LegacyDataGeneratorTest, UnusualNamesSurviveTheRoundTrip) {
    const auto id = manifest_->organizationsWith(LegacyCase::UnusualName).front();
    auto rows = query(*connection_, "SELECT name FROM organizations WHERE id = " + std::to_string(id));
    ASSERT_TRUE(rows->next());
    const std::string name = rows->getString(1);
    EXPECT_NE(name.find("Organization " + std::to_string(id)), std::string::npos);
    EXPECT_NE(name.find_first_of("\t\\'\"\xF0"), std::string::npos) << name;
}

TEST_F(LegacyDataGeneratorTest, TheSameSeedWritesTheSameDatabaseAndAnotherSeedAnother) {
    server_->createDatabase("again");
    server_->createDatabase("other");
    auto again = server_->connectAsRoot("again");
    auto other = server_->connectAsRoot("other");
    LegacyDataGenerator({.seed = 7, .organizations = kOrganizations, .usersPerOrganization = kUsersPerOrganization})
        .generate(*again);
    LegacyDataGenerator({.seed = 8, .organizations = kOrganizations, .usersPerOrganization = kUsersPerOrganization})
        .generate(*other);
    EXPECT_EQ(testsupport::legacyTableChecksums(*again), testsupport::legacyTableChecksums(*connection_));
    EXPECT_NE(testsupport::legacyTableChecksums(*other), testsupport::legacyTableChecksums(*connection_));
}

TEST_F(LegacyDataGeneratorTest, TheManifestIsJson) {
    const std::string json = manifest_->toJson();
    EXPECT_NE(json.find("\"token-not-base64\""), std::string::npos);
    EXPECT_NE(json.find("\"tokenKeys\""), std::string::npos);
}

}  // namespace
}  // namespace bridge::testsupport
