#include <cppconn/connection.h>
#include <cppconn/resultset.h>
#include <cppconn/statement.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "migrations/LegacyReader.h"
#include "testsupport/LegacyDataGenerator.h"
#include "testsupport/LegacyDatabase.h"
#include "testsupport/MariaDbServer.h"

namespace bridge::migrations {
namespace {

using testsupport::LegacyCase;

constexpr std::int64_t kOrganizations = 75;
constexpr int kUsersPerOrganization = 3;

class LegacyReaderTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = new testsupport::MariaDbServer();
        manifest_ = new testsupport::LegacyDataManifest(testsupport::createLegacyDatabase(
            *server_, {.seed = 3, .organizations = kOrganizations, .usersPerOrganization = kUsersPerOrganization}));
    }
    static void TearDownTestSuite() {
        delete manifest_;
        delete server_;
    }

    static MySqlDsn readerDsn() { return MySqlDsn::parse(server_->dsn("legacy", "reader", "secret"), "legacy.dsn"); }

    static testsupport::MariaDbServer* server_;
    static testsupport::LegacyDataManifest* manifest_;
};

testsupport::MariaDbServer* LegacyReaderTest::server_ = nullptr;
testsupport::LegacyDataManifest* LegacyReaderTest::manifest_ = nullptr;

TEST_F(LegacyReaderTest, StreamsEveryOrganizationOnceInIdOrderInBatches) {
    LegacyReader reader(readerDsn(), 7);
    EXPECT_EQ(reader.countOrganizations(), kOrganizations);
    std::int64_t previousId = 0;
    std::int64_t organizations = 0;
    std::int64_t connectivityRows = 0;
    std::int64_t users = 0;
    int batches = 0;
    for (auto batch = reader.nextBatch(); !batch.empty(); batch = reader.nextBatch()) {
        if (batch.organizations.empty()) continue;  // orphans after the last organization
        ++batches;
        EXPECT_LE(batch.organizations.size(), 7u);
        for (const auto& organization : batch.organizations) {
            EXPECT_GT(organization.row.id, previousId);
            previousId = organization.row.id;
            ++organizations;
            EXPECT_EQ(organization.row.deleted, manifest_->has(organization.row.id, LegacyCase::SoftDeleted));
            EXPECT_EQ(organization.connectivity.has_value(),
                      !manifest_->has(organization.row.id, LegacyCase::NoConnectivityRow));
            if (organization.connectivity) {
                ++connectivityRows;
                EXPECT_EQ(organization.connectivity->orgId, organization.row.id);
            }
            std::int64_t previousUser = 0;
            for (const auto& user : organization.users) {
                EXPECT_EQ(user.orgId, organization.row.id);
                EXPECT_GT(user.id, previousUser);
                previousUser = user.id;
                ++users;
            }
        }
    }
    EXPECT_EQ(batches, (kOrganizations + 6) / 7);
    EXPECT_EQ(organizations, kOrganizations);
    EXPECT_EQ(connectivityRows,
              manifest_->connectivityRows -
                  static_cast<std::int64_t>(manifest_->organizationsWith(LegacyCase::OrphanConnectivityRow).size()));
    EXPECT_EQ(users, manifest_->userRows - static_cast<std::int64_t>(manifest_->orphanUsers.size()));
}

TEST_F(LegacyReaderTest, ReadsColumnsAsTheyAre) {
    LegacyReader reader(readerDsn(), 500);
    const auto batch = reader.nextBatch().organizations;
    const auto lost = manifest_->organizationsWith(LegacyCase::Lost).front();
    const auto found = std::find_if(batch.begin(), batch.end(), [&](const auto& o) { return o.row.id == lost; });
    ASSERT_NE(found, batch.end());
    ASSERT_TRUE(found->connectivity);
    EXPECT_EQ(found->connectivity->status, 2);
    EXPECT_TRUE(found->connectivity->lastError);
    EXPECT_TRUE(found->connectivity->refreshTokenEncrypted);
    ASSERT_TRUE(found->connectivity->statusChangedAt);
    EXPECT_EQ(found->connectivity->statusChangedAt->size(), 19u);
    EXPECT_EQ(found->row.createdAt.size(), 19u);
    EXPECT_EQ(found->connectivity->updatedAt.size(), 19u);
    const auto suspended = std::count_if(found->users.begin(), found->users.end(),
                                         [](const auto& user) { return user.syncState == "suspended"; });
    EXPECT_GT(suspended, 0);
}

TEST_F(LegacyReaderTest, FindsEveryOrphanWhateverTheBatchSize) {
    std::set<std::int64_t> expectedConnectivity;
    for (auto id : manifest_->organizationsWith(LegacyCase::OrphanConnectivityRow)) expectedConnectivity.insert(id);
    std::set<std::int64_t> expectedUsers;
    for (auto id : manifest_->organizationsWith(LegacyCase::OrphanUsers)) expectedUsers.insert(id);

    for (int batchSize : {1, 2, 500}) {
        LegacyReader reader(readerDsn(), batchSize);
        std::set<std::int64_t> connectivity;
        std::set<std::int64_t> users;
        std::int64_t userRows = 0;
        std::int64_t previous = -1;
        for (auto batch = reader.nextBatch(); !batch.empty(); batch = reader.nextBatch()) {
            for (const auto& orphan : batch.orphans) {
                EXPECT_GT(orphan.orgId, previous) << batchSize;
                previous = orphan.orgId;
                if (orphan.connectivityRow) connectivity.insert(orphan.orgId);
                if (orphan.users > 0) users.insert(orphan.orgId);
                userRows += orphan.users;
            }
        }
        EXPECT_EQ(connectivity, expectedConnectivity) << batchSize;
        EXPECT_EQ(users, expectedUsers) << batchSize;
        EXPECT_EQ(userRows, static_cast<std::int64_t>(manifest_->orphanUsers.size())) << batchSize;
    }
}

// Users are read by id ranges where an organization's ids lie close together and id by id where they are
// scattered; either way every organization gets exactly its users, in id order, whatever the batch size.
TEST_F(LegacyReaderTest, ReadsEveryUserWhereverItsIdLies) {
    server_->createDatabase("scattered");
    server_->createReadOnlyUser("scattered_reader", "secret", "scattered");
    auto writer = server_->connectAsRoot("scattered");
    const auto execute = [&](const std::string& sql) {
        std::unique_ptr<sql::Statement>(writer->createStatement())->execute(sql);
    };
    for (const auto& statement : testsupport::LegacyDataGenerator::legacySchemaStatements()) execute(statement);
    // Organization 5 is missing: its users are orphans between organizations, as are those of 0 before the first
    // and of 90 after the last.
    for (const int orgId : {1, 2, 3, 4, 6, 7}) {
        execute("INSERT INTO organizations (id, name, created_at) VALUES (" + std::to_string(orgId) + ", 'o" +
                std::to_string(orgId) + "', '2020-01-01 00:00:00')");
    }
    std::map<std::int64_t, std::vector<std::int64_t>> expected;  // organization -> user ids
    std::map<std::int64_t, std::int64_t> expectedOrphans;        // organization -> users
    std::int64_t nextUserId = 1;
    const auto addUser = [&](std::int64_t orgId) {
        const std::int64_t id = nextUserId++;
        execute("INSERT INTO org_users (id, org_id, email) VALUES (" + std::to_string(id) + ", " +
                std::to_string(orgId) + ", 'u" + std::to_string(id) + "@example.com')");
        if (orgId == 0 || orgId == 5 || orgId == 90) {
            ++expectedOrphans[orgId];
        } else {
            expected[orgId].push_back(id);
        }
    };
    for (int i = 0; i < 12; ++i) {
        for (const int orgId : {1, 2}) addUser(orgId);  // every other id: a range with the other's rows in it
    }
    for (int i = 0; i < 12; ++i) {
        for (const int orgId : {3, 4, 5, 0}) addUser(orgId);  // every fourth id: read one by one
    }
    for (int i = 0; i < 20; ++i) addUser(6);  // together
    // NULL and empty texts stay apart.
    execute("UPDATE org_users SET display_name = '' WHERE id = " + std::to_string(expected[6].front()));
    execute("UPDATE org_users SET display_name = 'Ann' WHERE id = " + std::to_string(expected[6].back()));
    nextUserId += 1000;  // far from the others
    addUser(3);
    addUser(90);
    addUser(7);

    for (const int batchSize : {1, 2, 4, 500}) {
        LegacyReader reader(MySqlDsn::parse(server_->dsn("scattered", "scattered_reader", "secret"), "legacy.dsn"),
                            batchSize);
        std::map<std::int64_t, std::vector<std::int64_t>> read;
        std::map<std::int64_t, std::int64_t> orphans;
        for (auto batch = reader.nextBatch(); !batch.empty(); batch = reader.nextBatch()) {
            for (const auto& organization : batch.organizations) {
                auto& ids = read[organization.row.id];
                for (const auto& user : organization.users) {
                    EXPECT_EQ(user.orgId, organization.row.id) << batchSize;
                    // Appended, not "u" + std::to_string(...): g++ 12 at -O3 reports a false -Wrestrict where
                    // operator+ inserts in front of a string (GCC bug 105329).
                    std::string email = "u";
                    email.append(std::to_string(user.id)).append("@example.com");
                    EXPECT_EQ(user.email, email) << batchSize;
                    if (user.id == expected[6].front()) {
                        EXPECT_EQ(user.displayName, std::optional<std::string>("")) << batchSize;
                    } else if (user.id == expected[6].back()) {
                        EXPECT_EQ(user.displayName, std::optional<std::string>("Ann")) << batchSize;
                    } else {
                        EXPECT_EQ(user.displayName, std::nullopt) << batchSize;
                    }
                    ids.push_back(user.id);
                }
            }
            for (const auto& orphan : batch.orphans) orphans[orphan.orgId] += orphan.users;
        }
        EXPECT_EQ(read, expected) << batchSize;
        EXPECT_EQ(orphans, expectedOrphans) << batchSize;
    }
}

TEST_F(LegacyReaderTest, SeesTheDatabaseAsItWasWhenItStarted) {
    server_->createDatabase("changing");
    server_->createReadOnlyUser("changing_reader", "secret", "changing");
    auto writer = server_->connectAsRoot("changing");
    testsupport::LegacyDataGenerator({.seed = 4, .organizations = 10, .usersPerOrganization = 1}).generate(*writer);

    LegacyReader reader(MySqlDsn::parse(server_->dsn("changing", "changing_reader", "secret"), "legacy.dsn"), 4);
    std::unique_ptr<sql::Statement>(writer->createStatement())
        ->execute("INSERT INTO organizations (id, name, created_at) VALUES (1000, 'late', '2026-01-01 00:00:00')");
    std::int64_t seen = 0;
    for (auto batch = reader.nextBatch(); !batch.empty(); batch = reader.nextBatch()) {
        for (const auto& organization : batch.organizations) {
            EXPECT_NE(organization.row.id, 1000);
            ++seen;
        }
    }
    EXPECT_EQ(seen, 10);
}

TEST_F(LegacyReaderTest, NeverWritesEvenWithAUserThatMay) {
    server_->createUser("owner", "secret", "legacy");
    auto root = server_->connectAsRoot("legacy");
    const std::string before = testsupport::legacyTableChecksums(*root);
    {
        LegacyReader reader(MySqlDsn::parse(server_->dsn("legacy", "owner", "secret"), "legacy.dsn"), 5);
        reader.countOrganizations();
        while (!reader.nextBatch().empty()) {
        }
    }
    EXPECT_EQ(testsupport::legacyTableChecksums(*root), before);
}

// --- staged runs: a selection of organizations ---

// An organization's rows as one line, to compare a selection's read with the full read.
std::string describe(const LegacyOrganization& organization) {
    std::string text = std::to_string(organization.row.id) + "|" + organization.row.name + "|" +
                       organization.row.createdAt + "|" + std::to_string(organization.row.deleted);
    if (organization.connectivity) {
        const auto& row = *organization.connectivity;
        text.append("|connectivity ").append(std::to_string(row.status)).append(" ");
        text.append(row.refreshTokenEncrypted.value_or("<none>")).append(" ").append(row.updatedAt);
    }
    for (const auto& user : organization.users) {
        text.append("|user ").append(std::to_string(user.id)).append(" ").append(user.email);
    }
    return text;
}

std::string describe(const LegacyOrphan& orphan) {
    return std::to_string(orphan.orgId) + "|" + std::to_string(orphan.connectivityRow) + "|" +
           std::to_string(orphan.users);
}

struct Read {
    std::map<std::int64_t, std::string> organizations;
    std::map<std::int64_t, std::string> orphans;
    std::vector<std::int64_t> notFound;
    std::size_t largestBatch = 0;  // ids, of every kind
};

Read readAll(LegacyReader& reader) {
    Read read;
    for (auto batch = reader.nextBatch(); !batch.empty(); batch = reader.nextBatch()) {
        read.largestBatch =
            std::max(read.largestBatch, batch.organizations.size() + batch.orphans.size() + batch.notFound.size());
        for (const auto& organization : batch.organizations) {
            EXPECT_TRUE(read.organizations.emplace(organization.row.id, describe(organization)).second);
        }
        for (const auto& orphan : batch.orphans) {
            EXPECT_TRUE(read.orphans.emplace(orphan.orgId, describe(orphan)).second);
        }
        read.notFound.insert(read.notFound.end(), batch.notFound.begin(), batch.notFound.end());
    }
    return read;
}

TEST_F(LegacyReaderTest, ASelectionReadsItsOrganizationsAndTheirRowsAsTheFullReadDoes) {
    LegacyReader everything(readerDsn(), 500);
    const Read full = readAll(everything);
    const std::int64_t lost = manifest_->organizationsWith(LegacyCase::Lost).front();
    const std::int64_t softDeleted = manifest_->organizationsWith(LegacyCase::SoftDeleted).front();
    const std::int64_t twin = manifest_->caseTwins.front().orgId;
    const std::int64_t orphanRow = manifest_->organizationsWith(LegacyCase::OrphanConnectivityRow).front();
    const std::int64_t orphanUsers = manifest_->organizationsWith(LegacyCase::OrphanUsers).back();
    const std::vector<std::int64_t> unknown{4000000, OrganizationSelection::kLargestLegacyId};
    const auto selection = OrganizationSelection::fromList(
        std::to_string(twin) + "," + std::to_string(lost) + "," + std::to_string(softDeleted) + "," +
        std::to_string(orphanRow) + "," + std::to_string(orphanUsers) + ",4000000,4294967295," + std::to_string(lost));

    for (const int batchSize : {1, 2, 500}) {
        SCOPED_TRACE("batch size " + std::to_string(batchSize));
        LegacyReader reader(readerDsn(), batchSize, selection);
        EXPECT_TRUE(reader.selective());
        const Read read = readAll(reader);
        std::map<std::int64_t, std::string> expected;
        for (const auto id : {lost, softDeleted, twin}) expected.emplace(id, full.organizations.at(id));
        EXPECT_EQ(reader.countOrganizations(), static_cast<std::int64_t>(expected.size()));
        EXPECT_EQ(read.organizations, expected);
        EXPECT_EQ(read.orphans, (std::map<std::int64_t, std::string>{{orphanRow, full.orphans.at(orphanRow)},
                                                                     {orphanUsers, full.orphans.at(orphanUsers)}}));
        EXPECT_EQ(read.notFound, unknown);
        EXPECT_LE(read.largestBatch, static_cast<std::size_t>(batchSize));
    }
}

// More ids than one query's IN-list holds (500), in one batch and across batches.
TEST_F(LegacyReaderTest, ASelectionOfManyIdsIsReadInBoundedListsAndMissesNothing) {
    LegacyReader everything(readerDsn(), 500);
    const Read full = readAll(everything);
    std::string list;
    std::vector<std::int64_t> unknown;
    for (std::int64_t id = 1; id <= 1700; ++id) {
        list.append(list.empty() ? "" : ",").append(std::to_string(id));
        if (!full.organizations.contains(id) && !full.orphans.contains(id)) unknown.push_back(id);
    }
    ASSERT_LT(full.organizations.rbegin()->first, 1700);
    ASSERT_LT(full.orphans.rbegin()->first, 1700);
    for (const int batchSize : {1200, 5000}) {
        SCOPED_TRACE("batch size " + std::to_string(batchSize));
        LegacyReader reader(readerDsn(), batchSize, OrganizationSelection::fromList(list));
        EXPECT_EQ(reader.countOrganizations(), kOrganizations);
        const Read read = readAll(reader);
        EXPECT_EQ(read.organizations, full.organizations);
        EXPECT_EQ(read.orphans, full.orphans);
        EXPECT_EQ(read.notFound, unknown);
    }
}

}  // namespace
}  // namespace bridge::migrations
