// The store's conformance suite: every promise of bridge::Store, written once and run against SQLite and a real
// MariaDB server, in the manner of Poco's DataTest shared by its SQLite and MySQL connectors.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "StoreBackends.h"
#include "bridge/base/Error.h"
#include "bridge/store/PublicIds.h"
#include "bridge/store/Store.h"
#include "bridge/store/StoreFactory.h"
#include "migrations/SchemaCatalog.h"
#include "testsupport/RunTogether.h"

namespace bridge::storetest {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::int64_t kFirstNewLegacyId = 2'000'000'000;
constexpr UnixSeconds kNow = 1'700'000'000;
constexpr std::int64_t kNowMs = kNow * 1000;
constexpr std::int64_t kNewestFirst = std::numeric_limits<std::int64_t>::max();
constexpr int kPoolSize = 16;
constexpr int kThreads = 8;
constexpr auto kUnavailableWithin = std::chrono::seconds(8);
// Letters from four planes, quotes, a backslash, a tab and a newline: what an admin may paste into a name.
const std::string kAwkwardText = "Zoë's \"Café\" \\ C:\\tmp\tTab\nLine 🚀👩‍💻 日本語 Ω";

// --- comparable views of the model (the model types have no operator==) ---

auto fieldsOf(const Organization& organization) {
    return std::make_tuple(organization.legacyId, organization.publicId(), organization.name);
}

auto fieldsOf(const User& user) {
    return std::make_tuple(user.legacyId, user.publicId(), user.orgId, user.email, user.displayName,
                           user.salesforceUserId, user.active, user.syncSuspended, user.suspendReason,
                           user.suspendedByLoss);
}

std::optional<std::pair<std::string, std::string>> fieldsOf(const std::optional<SealedToken>& token) {
    if (!token) return std::nullopt;
    return std::make_pair(token->keyId, token->ciphertext);
}

auto fieldsOf(const Connection& connection) {
    return std::make_tuple(connection.orgId, connection.serviceAccountLoginEnabled, connection.authorizationMethod,
                           connection.status, connection.environment, connection.serviceAccountUserId,
                           connection.serviceAccountUsername, connection.salesforceOrgId, connection.instanceUrl,
                           fieldsOf(connection.refreshToken), connection.statusChangedAt, connection.connectedAt,
                           connection.lastError, connection.lastRefreshAt, connection.changedByAdminAt,
                           connection.version);
}

auto fieldsOf(const Event& event) {
    return std::make_tuple(event.orgId, event.at, event.type, event.panel, event.actor, event.detail);
}

auto fieldsOf(const OAuthAttempt& attempt) {
    return std::make_tuple(attempt.stateHash, attempt.orgId, attempt.panel, attempt.environment, attempt.actor,
                           attempt.codeVerifier.keyId, attempt.codeVerifier.ciphertext, attempt.expiresAt);
}

auto fieldsOf(const StoredAccessToken& token) {
    return std::make_tuple(token.token.keyId, token.token.ciphertext, token.instanceUrl, token.expiresAt);
}

auto fieldsOf(const AccessTokenInvalidation& invalidation) {
    return std::make_tuple(invalidation.orgId, invalidation.generation);
}

template <typename Item>
std::vector<decltype(fieldsOf(std::declval<Item>()))> fieldsOfAll(const std::vector<Item>& items) {
    std::vector<decltype(fieldsOf(std::declval<Item>()))> fields;
    for (const auto& item : items) fields.push_back(fieldsOf(item));
    return fields;
}

template <typename Entity>
std::vector<std::int64_t> legacyIdsOf(const std::vector<Entity>& entities) {
    std::vector<std::int64_t> ids;
    for (const auto& entity : entities) ids.push_back(entity.legacyId);
    return ids;
}

std::vector<std::int64_t> consecutiveIds(std::int64_t first, std::int64_t count) {
    std::vector<std::int64_t> ids;
    for (std::int64_t id = first; id < first + count; ++id) ids.push_back(id);
    return ids;
}

// --- running things ---

// The code of the bridge::Error that `call` throws; nullopt when it returns normally.
template <typename Call>
std::optional<ErrorCode> errorCodeOf(Call&& call) {
    try {
        call();
    } catch (const Error& error) {
        return error.code();
    }
    return std::nullopt;
}

// --- building blocks of the model ---

NewUser newUser(std::int64_t orgId, std::string email) {
    NewUser user;
    user.orgId = orgId;
    user.email = std::move(email);
    return user;
}

SealedToken sealed(std::string ciphertext) { return SealedToken{"key-1", std::move(ciphertext)}; }

Connection connectedConnection(std::int64_t orgId, const std::string& refreshCiphertext) {
    Connection connection;
    connection.orgId = orgId;
    connection.serviceAccountLoginEnabled = true;
    connection.status = ConnectionStatus::Connected;
    connection.environment = Environment::Production;
    connection.serviceAccountUserId = "005000000000001AAA";
    connection.serviceAccountUsername = "integration@example.com";
    connection.salesforceOrgId = "00D000000000001AAA";
    connection.instanceUrl = "https://example.my.salesforce.com";
    connection.refreshToken = sealed(refreshCiphertext);
    connection.statusChangedAt = kNow;
    connection.connectedAt = kNow;
    return connection;
}

Connection disconnectedConnection(std::int64_t orgId, const std::string& refreshCiphertext) {
    Connection connection = connectedConnection(orgId, refreshCiphertext);
    connection.status = ConnectionStatus::Disconnected;
    connection.lastError = "invalid_grant: expired access/refresh token";
    return connection;
}

Event event(std::int64_t orgId, EventType type, UnixSeconds at) {
    Event event;
    event.orgId = orgId;
    event.type = type;
    event.at = at;
    event.panel = Panel::Modern;
    event.actor = "admin@example.com";
    event.detail = "step " + std::to_string(at - kNow);
    return event;
}

ConnectionTransition transitionTo(Connection next, std::optional<std::int64_t> expectedVersion) {
    ConnectionTransition transition;
    transition.next = std::move(next);
    transition.expectedVersion = expectedVersion;
    return transition;
}

OAuthAttempt oauthAttempt(std::int64_t orgId, std::string stateHash, UnixSeconds expiresAt) {
    OAuthAttempt attempt;
    attempt.stateHash = std::move(stateHash);
    attempt.orgId = orgId;
    attempt.panel = Panel::Legacy;
    attempt.environment = Environment::Sandbox;
    attempt.actor = "legacy-admin";
    attempt.codeVerifier = SealedToken{"key-2", "verifier-ciphertext"};
    attempt.expiresAt = expiresAt;
    return attempt;
}

StoredAccessToken accessToken(std::string ciphertext) {
    return StoredAccessToken{sealed(std::move(ciphertext)), "https://example.my.salesforce.com", kNow + 900};
}

RefreshOutcome refreshOutcome(std::int64_t orgId, std::string leaseOwner, std::string presentedRefreshCiphertext,
                              std::string accessCiphertext) {
    RefreshOutcome outcome;
    outcome.orgId = orgId;
    outcome.leaseOwner = std::move(leaseOwner);
    outcome.presentedRefreshCiphertext = std::move(presentedRefreshCiphertext);
    outcome.accessToken = accessToken(std::move(accessCiphertext));
    outcome.refreshedAt = kNow + 60;
    return outcome;
}

MigratedOrganization migratedOrganization(std::int64_t legacyId, std::string fingerprint) {
    MigratedOrganization migrated;
    migrated.organization = Organization{legacyId, "Legacy " + std::to_string(legacyId)};
    migrated.legacyFingerprint = std::move(fingerprint);
    return migrated;
}

User migratedUser(std::int64_t legacyId, std::int64_t orgId, std::string email) {
    User user;
    user.legacyId = legacyId;
    user.orgId = orgId;
    user.email = std::move(email);
    return user;
}

// --- the fixture, once per backend ---

template <typename Backend>
class StoreConformanceTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { Backend::startSuite(); }
    static void TearDownTestSuite() { Backend::stopSuite(); }

    void SetUp() override {
        dsn_ = backend_.freshDsn();
        store_ = openStore(dsn_, kPoolSize);
        migrations::upgradeSchema(*store_);
    }

    Store& store() { return *store_; }

    // The legacy id of a new organization created through the panel.
    std::int64_t newOrganization(const std::string& name = "Acme") {
        return store_->createOrganization(name, kFirstNewLegacyId).legacyId;
    }

    // Connects the organization with the refresh token and returns the connection's version.
    std::int64_t connect(std::int64_t orgId, const std::string& refreshCiphertext) {
        const Connection current = store_->loadConnection(orgId);
        EXPECT_TRUE(
            store_->applyTransition(transitionTo(connectedConnection(orgId, refreshCiphertext), current.version)));
        return store_->loadConnection(orgId).version;
    }

    // Stores an access token for a connected organization the way the broker does.
    void storeAccessToken(std::int64_t orgId, const std::string& refreshCiphertext,
                          const std::string& accessCiphertext) {
        ASSERT_TRUE(store_->tryAcquireRefreshLease(orgId, "broker-setup", std::chrono::seconds(60)));
        ASSERT_TRUE(store_->commitRefresh(refreshOutcome(orgId, "broker-setup", refreshCiphertext, accessCiphertext)));
        store_->releaseRefreshLease(orgId, "broker-setup");
    }

    // While it lives the database cannot be reached; afterwards it can again.
    class Outage {
    public:
        Outage(Backend& backend, const std::string& dsn) : backend_(backend) { backend_.interrupt(dsn); }
        ~Outage() { backend_.restore(); }
        Outage(const Outage&) = delete;
        Outage& operator=(const Outage&) = delete;

    private:
        Backend& backend_;
    };

    Backend backend_;
    std::string dsn_;
    std::unique_ptr<Store> store_;
};

using Backends = ::testing::Types<SqliteBackend, MariaDbBackend>;
TYPED_TEST_SUITE(StoreConformanceTest, Backends);

// --- schema ---

TYPED_TEST(StoreConformanceTest, SchemaAppliedTwiceIsANoOpAndReportsTheVersion) {
    const std::string dsn = this->backend_.freshDsn();
    auto store = openStore(dsn, kPoolSize);
    EXPECT_EQ(store->sqlDialect(), TypeParam::kDialect);
    const auto& versions = migrations::schemaVersions(store->sqlDialect());
    const int latest = versions.back().version;
    EXPECT_EQ(store->schemaVersion(), 0);

    EXPECT_EQ(migrations::upgradeSchema(*store), latest);
    EXPECT_EQ(store->schemaVersion(), latest);
    const Organization organization = store->createOrganization("Survives a second upgrade", kFirstNewLegacyId);

    EXPECT_EQ(migrations::upgradeSchema(*store), latest);
    EXPECT_EQ(store->schemaVersion(), latest);
    EXPECT_EQ(countRows(dsn, "schema_version"), static_cast<std::int64_t>(versions.size()));
    ASSERT_TRUE(store->findOrganization(organization.legacyId));
    EXPECT_EQ(fieldsOf(*store->findOrganization(organization.legacyId)), fieldsOf(organization));
    EXPECT_TRUE(store->ping());
}

TYPED_TEST(StoreConformanceTest, SchemaAppliedByStoresAtOnceOnAnEmptyDatabaseIsAppliedOnce) {
    constexpr int kStores = 4;
    const std::string dsn = this->backend_.freshDsn();
    std::vector<std::unique_ptr<Store>> stores;
    for (int index = 0; index < kStores; ++index) stores.push_back(openStore(dsn, kPoolSize));
    const auto& versions = migrations::schemaVersions(stores.front()->sqlDialect());

    const auto reached =
        testsupport::runTogether(kStores, [&](int index) { return migrations::upgradeSchema(*stores[index]); });

    EXPECT_EQ(reached, std::vector<int>(kStores, versions.back().version));
    EXPECT_EQ(countRows(dsn, "schema_version"), static_cast<std::int64_t>(versions.size()));
    for (auto& store : stores) EXPECT_EQ(store->schemaVersion(), versions.back().version);
}

// --- organizations ---

TYPED_TEST(StoreConformanceTest, OrganizationHasTwoIdsAndIsFoundByEither) {
    Store& store = this->store();
    const Organization created = store.createOrganization("Acme", kFirstNewLegacyId);
    EXPECT_EQ(created.legacyId, kFirstNewLegacyId);
    EXPECT_EQ(created.publicId(), profileIdFor(kFirstNewLegacyId));
    EXPECT_EQ(created.name, "Acme");

    ASSERT_TRUE(store.findOrganization(created.legacyId));
    EXPECT_EQ(fieldsOf(*store.findOrganization(created.legacyId)), fieldsOf(created));
    ASSERT_TRUE(store.findOrganizationByPublicId(created.publicId()));
    EXPECT_EQ(fieldsOf(*store.findOrganizationByPublicId(created.publicId())), fieldsOf(created));
    EXPECT_FALSE(store.findOrganization(created.legacyId + 1));
    EXPECT_FALSE(store.findOrganizationByPublicId(profileIdFor(created.legacyId + 1)));
    // Ids that were never given out: a user id of the same number, a legacy id, an altered id.
    EXPECT_FALSE(store.findOrganizationByPublicId(userIdFor(created.legacyId)));
    EXPECT_FALSE(store.findOrganizationByPublicId(std::to_string(created.legacyId)));
    std::string altered = created.publicId();
    altered.back() = altered.back() == '0' ? '1' : '0';
    EXPECT_FALSE(store.findOrganizationByPublicId(altered));
}

TYPED_TEST(StoreConformanceTest, CreateOrganizationAllocatesIdsFromFirstNewLegacyIdUpward) {
    Store& store = this->store();
    // Migrated organizations below the first new id do not move it.
    ASSERT_EQ(store.writeMigratedOrganization(migratedOrganization(1042, "fingerprint")), MigrationWrite::Written);
    ASSERT_EQ(store.writeMigratedOrganization(migratedOrganization(kFirstNewLegacyId - 1, "fingerprint")),
              MigrationWrite::Written);

    EXPECT_EQ(store.createOrganization("First", kFirstNewLegacyId).legacyId, kFirstNewLegacyId);
    EXPECT_EQ(store.createOrganization("Second", kFirstNewLegacyId).legacyId, kFirstNewLegacyId + 1);
}

TYPED_TEST(StoreConformanceTest, ConcurrentOrganizationCreationNeverHandsOutAnIdTwice) {
    constexpr int kPerThread = 10;
    Store& store = this->store();
    const auto created = testsupport::runTogether(kThreads, [&](int thread) {
        std::vector<Organization> organizations;
        for (int index = 0; index < kPerThread; ++index) {
            organizations.push_back(store.createOrganization(
                "Org " + std::to_string(thread) + "." + std::to_string(index), kFirstNewLegacyId));
        }
        return organizations;
    });

    std::vector<std::int64_t> ids;
    for (const auto& organizations : created) {
        for (const auto& organization : organizations) {
            ids.push_back(organization.legacyId);
            ASSERT_TRUE(store.findOrganization(organization.legacyId));
            EXPECT_EQ(fieldsOf(*store.findOrganization(organization.legacyId)), fieldsOf(organization));
        }
    }
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, consecutiveIds(kFirstNewLegacyId, kThreads * kPerThread));
}

TYPED_TEST(StoreConformanceTest, ListOrganizationsPagesAfterAnIdWithinTheScope) {
    Store& store = this->store();
    ASSERT_EQ(store.writeMigratedOrganization(migratedOrganization(1042, "fingerprint")), MigrationWrite::Written);
    for (int index = 0; index < 5; ++index) this->newOrganization("Org " + std::to_string(index));
    const std::int64_t first = kFirstNewLegacyId;

    const OrganizationScope everything{true, {}};
    EXPECT_EQ(legacyIdsOf(store.listOrganizations(everything, 0, 3)),
              (std::vector<std::int64_t>{1042, first, first + 1}));
    EXPECT_EQ(legacyIdsOf(store.listOrganizations(everything, first + 1, 3)),
              (std::vector<std::int64_t>{first + 2, first + 3, first + 4}));
    EXPECT_TRUE(store.listOrganizations(everything, first + 4, 3).empty());
    EXPECT_EQ(fieldsOf(store.listOrganizations(everything, first + 3, 1).at(0)),
              fieldsOf(Organization{first + 4, "Org 4"}));

    // An org-admin's scope: unordered, with a duplicate and an organization that does not exist.
    const OrganizationScope some{false, {first + 4, first + 1, 999, first + 1, 1042}};
    EXPECT_TRUE(some.allows(first + 1));
    EXPECT_FALSE(some.allows(first + 2));
    EXPECT_TRUE(everything.allows(first + 2));
    EXPECT_EQ(legacyIdsOf(store.listOrganizations(some, 0, 2)), (std::vector<std::int64_t>{1042, first + 1}));
    EXPECT_EQ(legacyIdsOf(store.listOrganizations(some, first + 1, 2)), (std::vector<std::int64_t>{first + 4}));
    EXPECT_TRUE(store.listOrganizations(some, first + 4, 2).empty());
    EXPECT_TRUE(store.listOrganizations(OrganizationScope{false, {}}, 0, 10).empty());
}

// --- users ---

TYPED_TEST(StoreConformanceTest, UserHasTwoIdsAndIsFoundByEither) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    NewUser request = newUser(orgId, "Ada.Lovelace@Example.com");
    request.displayName = "Ada Lovelace";
    request.salesforceUserId = "005000000000002AAA";
    request.active = false;

    const User created = store.createUser(request, kFirstNewLegacyId);
    EXPECT_EQ(created.legacyId, kFirstNewLegacyId);
    EXPECT_EQ(created.publicId(), userIdFor(kFirstNewLegacyId));
    User expected;
    expected.legacyId = kFirstNewLegacyId;
    expected.orgId = orgId;
    expected.email = "Ada.Lovelace@Example.com";
    expected.displayName = "Ada Lovelace";
    expected.salesforceUserId = "005000000000002AAA";
    expected.active = false;
    EXPECT_EQ(fieldsOf(created), fieldsOf(expected));

    ASSERT_TRUE(store.findUser(created.legacyId));
    EXPECT_EQ(fieldsOf(*store.findUser(created.legacyId)), fieldsOf(expected));
    ASSERT_TRUE(store.findUserByPublicId(created.publicId()));
    EXPECT_EQ(fieldsOf(*store.findUserByPublicId(created.publicId())), fieldsOf(expected));
    EXPECT_FALSE(store.findUser(created.legacyId + 1));
    EXPECT_FALSE(store.findUserByPublicId(userIdFor(created.legacyId + 1)));
    EXPECT_FALSE(store.findUserByPublicId(profileIdFor(created.legacyId)));
    EXPECT_EQ(store.countUsers(orgId), 1);
}

TYPED_TEST(StoreConformanceTest, CreateUserAllocatesIdsFromFirstNewLegacyIdUpwardAcrossOrganizations) {
    Store& store = this->store();
    MigratedOrganization legacy = migratedOrganization(1042, "fingerprint");
    legacy.users = {migratedUser(7, 1042, "old@example.com")};
    ASSERT_EQ(store.writeMigratedOrganization(legacy), MigrationWrite::Written);
    const std::int64_t otherOrgId = this->newOrganization();

    EXPECT_EQ(store.createUser(newUser(1042, "new@example.com"), kFirstNewLegacyId).legacyId, kFirstNewLegacyId);
    EXPECT_EQ(store.createUser(newUser(otherOrgId, "new@example.com"), kFirstNewLegacyId).legacyId,
              kFirstNewLegacyId + 1);
    EXPECT_EQ(store.countUsers(1042), 2);
    EXPECT_EQ(store.countUsers(otherOrgId), 1);
}

TYPED_TEST(StoreConformanceTest, ConcurrentUserCreationNeverHandsOutAnIdTwice) {
    constexpr int kPerThread = 10;
    Store& store = this->store();
    const std::int64_t orgIds[] = {this->newOrganization("One"), this->newOrganization("Two")};
    const auto created = testsupport::runTogether(kThreads, [&](int thread) {
        std::vector<User> users;
        for (int index = 0; index < kPerThread; ++index) {
            const std::string email = "user" + std::to_string(thread) + "." + std::to_string(index) + "@example.com";
            users.push_back(store.createUser(newUser(orgIds[index % 2], email), kFirstNewLegacyId));
        }
        return users;
    });

    std::vector<std::int64_t> ids;
    for (const auto& users : created) {
        for (const auto& user : users) {
            ids.push_back(user.legacyId);
            ASSERT_TRUE(store.findUser(user.legacyId));
            EXPECT_EQ(fieldsOf(*store.findUser(user.legacyId)), fieldsOf(user));
        }
    }
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, consecutiveIds(kFirstNewLegacyId, kThreads * kPerThread));
    EXPECT_EQ(store.countUsers(orgIds[0]) + store.countUsers(orgIds[1]), kThreads * kPerThread);
}

TYPED_TEST(StoreConformanceTest, EmailIsTakenWhateverItsLetterCase) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization("One");
    const std::int64_t otherOrgId = this->newOrganization("Two");
    const User first = store.createUser(newUser(orgId, "Ada.Lovelace@Example.com"), kFirstNewLegacyId);

    EXPECT_EQ(errorCodeOf([&] { store.createUser(newUser(orgId, "ada.lovelace@EXAMPLE.COM"), kFirstNewLegacyId); }),
              ErrorCode::EmailTaken);
    EXPECT_EQ(store.countUsers(orgId), 1);
    ASSERT_TRUE(store.findUser(first.legacyId));
    EXPECT_EQ(store.findUser(first.legacyId)->email, "Ada.Lovelace@Example.com");
    // Another organization may have the same email.
    EXPECT_EQ(store.createUser(newUser(otherOrgId, "ADA.LOVELACE@example.com"), kFirstNewLegacyId).email,
              "ADA.LOVELACE@example.com");

    // A migrated user's email is taken too.
    MigratedOrganization legacy = migratedOrganization(1042, "fingerprint");
    legacy.users = {migratedUser(7, 1042, "Grace@Example.com")};
    ASSERT_EQ(store.writeMigratedOrganization(legacy), MigrationWrite::Written);
    EXPECT_EQ(errorCodeOf([&] { store.createUser(newUser(1042, "grace@example.COM"), kFirstNewLegacyId); }),
              ErrorCode::EmailTaken);
    EXPECT_EQ(store.countUsers(1042), 1);
}

TYPED_TEST(StoreConformanceTest, ConcurrentCreationOfOneEmailHasExactlyOneWinner) {
    constexpr int kRounds = 3;
    Store& store = this->store();
    for (int round = 0; round < kRounds; ++round) {
        const std::int64_t orgId = this->newOrganization("Round " + std::to_string(round));
        const auto outcomes = testsupport::runTogether(kThreads, [&](int thread) {
            // The same address in a different letter case on every thread.
            std::string email = "race@example.com";
            email[thread % email.size()] = static_cast<char>(std::toupper(email[thread % email.size()]));
            return errorCodeOf([&] { store.createUser(newUser(orgId, email), kFirstNewLegacyId); });
        });
        EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), std::nullopt), 1) << "round " << round;
        EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), ErrorCode::EmailTaken), kThreads - 1)
            << "round " << round;
        EXPECT_EQ(store.countUsers(orgId), 1);
    }
}

TYPED_TEST(StoreConformanceTest, TextRoundTripsByteForByte) {
    Store& store = this->store();
    const Organization organization = store.createOrganization(kAwkwardText, kFirstNewLegacyId);
    NewUser request = newUser(organization.legacyId, "o'brien+\"quoted\"\\x@example.com");
    request.displayName = kAwkwardText;
    const User user = store.createUser(request, kFirstNewLegacyId);
    Event awkward = event(organization.legacyId, EventType::LoginRefused, kNow);
    awkward.actor = kAwkwardText;
    awkward.detail = kAwkwardText;
    store.appendEvent(awkward);
    Connection connection = disconnectedConnection(organization.legacyId, "refresh");
    connection.lastError = kAwkwardText;
    connection.serviceAccountUsername = kAwkwardText;
    ConnectionTransition lost = transitionTo(connection, 0);
    lost.users = UserEffect::SuspendActiveUsers;
    lost.suspendReason = kAwkwardText;
    ASSERT_TRUE(store.applyTransition(lost));

    EXPECT_EQ(store.findOrganization(organization.legacyId)->name, kAwkwardText);
    const auto found = store.findUser(user.legacyId);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->email, "o'brien+\"quoted\"\\x@example.com");
    EXPECT_EQ(found->displayName, kAwkwardText);
    EXPECT_EQ(found->suspendReason, kAwkwardText);
    const auto events = store.listEvents(organization.legacyId, kNewestFirst, 1);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events.front().actor, kAwkwardText);
    EXPECT_EQ(events.front().detail, kAwkwardText);
    EXPECT_EQ(store.loadConnection(organization.legacyId).lastError, kAwkwardText);
    EXPECT_EQ(store.loadConnection(organization.legacyId).serviceAccountUsername, kAwkwardText);

    UserChanges rename;
    rename.displayName = std::optional<std::string>("Ünïcödé ✓ 'again' \\ \"again\"");
    EXPECT_EQ(store.updateUser(user.legacyId, rename).displayName, "Ünïcödé ✓ 'again' \\ \"again\"");
    EXPECT_EQ(store.findUser(user.legacyId)->displayName, "Ünïcödé ✓ 'again' \\ \"again\"");
}

TYPED_TEST(StoreConformanceTest, OffsetPagingOf120UsersSeesEachExactlyOnce) {
    constexpr int kUsers = 120;
    constexpr int kPage = 50;
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization("Big");
    const std::int64_t otherOrgId = this->newOrganization("Small");
    std::vector<std::int64_t> created;
    for (int index = 0; index < kUsers; ++index) {
        created.push_back(
            store.createUser(newUser(orgId, "user" + std::to_string(index) + "@example.com"), kFirstNewLegacyId)
                .legacyId);
        if (index % 40 == 0) {
            store.createUser(newUser(otherOrgId, "other" + std::to_string(index) + "@example.com"), kFirstNewLegacyId);
        }
    }
    EXPECT_EQ(store.countUsers(orgId), kUsers);

    std::vector<std::int64_t> seen;
    std::vector<std::size_t> pageSizes;
    for (std::int64_t offset = 0; offset <= kUsers; offset += kPage) {
        const auto page = store.listUsersByOffset(orgId, offset, kPage);
        pageSizes.push_back(page.size());
        for (const auto& user : page) {
            EXPECT_EQ(user.orgId, orgId);
            seen.push_back(user.legacyId);
        }
    }
    EXPECT_EQ(pageSizes, (std::vector<std::size_t>{50, 50, 20}));
    EXPECT_EQ(seen, created);  // in id order, each exactly once
    EXPECT_TRUE(store.listUsersByOffset(orgId, kUsers, kPage).empty());
}

TYPED_TEST(StoreConformanceTest, ListUsersAfterAnIdPagesInIdOrder) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization("Paged");
    const std::int64_t otherOrgId = this->newOrganization("Other");
    std::vector<User> created;
    for (int index = 0; index < 7; ++index) {
        // Appended, not "u" + std::to_string(...): g++ 12 at -O3 reports a false -Wrestrict where operator+
        // inserts in front of a string (GCC bug 105329).
        std::string email = "u";
        email.append(std::to_string(index)).append("@example.com");
        created.push_back(store.createUser(newUser(orgId, email), kFirstNewLegacyId));
        store.createUser(newUser(otherOrgId, email), kFirstNewLegacyId);
    }

    std::vector<std::vector<User>> pages;
    std::int64_t after = 0;
    do {
        pages.push_back(store.listUsersAfter(orgId, after, 3));
        if (!pages.back().empty()) after = pages.back().back().legacyId;
    } while (!pages.back().empty());

    ASSERT_EQ(pages.size(), 4u);
    EXPECT_EQ(pages[0].size(), 3u);
    EXPECT_EQ(pages[1].size(), 3u);
    EXPECT_EQ(pages[2].size(), 1u);
    std::vector<User> seen;
    for (const auto& page : pages) seen.insert(seen.end(), page.begin(), page.end());
    EXPECT_EQ(fieldsOfAll(seen), fieldsOfAll(created));
}

TYPED_TEST(StoreConformanceTest, UpdateUserChangesOnlyTheGivenFields) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    NewUser request = newUser(orgId, "ada@example.com");
    request.displayName = "Ada";
    request.salesforceUserId = "005000000000002AAA";
    User expected = store.createUser(request, kFirstNewLegacyId);

    UserChanges deactivate;
    deactivate.active = false;
    expected.active = false;
    EXPECT_EQ(fieldsOf(store.updateUser(expected.legacyId, deactivate)), fieldsOf(expected));
    EXPECT_EQ(fieldsOf(*store.findUser(expected.legacyId)), fieldsOf(expected));

    UserChanges clearNameSetSalesforceId;
    clearNameSetSalesforceId.displayName = std::optional<std::string>();
    clearNameSetSalesforceId.salesforceUserId = std::optional<std::string>("005000000000003AAA");
    expected.displayName.reset();
    expected.salesforceUserId = "005000000000003AAA";
    EXPECT_EQ(fieldsOf(store.updateUser(expected.legacyId, clearNameSetSalesforceId)), fieldsOf(expected));
    EXPECT_EQ(fieldsOf(*store.findUser(expected.legacyId)), fieldsOf(expected));

    UserChanges renameReactivateClearSalesforceId;
    renameReactivateClearSalesforceId.displayName = std::optional<std::string>("Countess of Lovelace");
    renameReactivateClearSalesforceId.active = true;
    renameReactivateClearSalesforceId.salesforceUserId = std::optional<std::string>();
    expected.displayName = "Countess of Lovelace";
    expected.active = true;
    expected.salesforceUserId.reset();
    EXPECT_EQ(fieldsOf(store.updateUser(expected.legacyId, renameReactivateClearSalesforceId)), fieldsOf(expected));
    EXPECT_EQ(fieldsOf(*store.findUser(expected.legacyId)), fieldsOf(expected));

    EXPECT_EQ(errorCodeOf([&] { store.updateUser(expected.legacyId + 1, deactivate); }), ErrorCode::UserNotFound);
}

TYPED_TEST(StoreConformanceTest, ActiveEndUserIsFoundBySalesforceIdOrEmailOfAnActiveUserOfTheOrganization) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization("One");
    const std::int64_t otherOrgId = this->newOrganization("Two");
    NewUser active = newUser(orgId, "Ada@Example.com");
    active.salesforceUserId = "005000000000002AAA";
    store.createUser(active, kFirstNewLegacyId);
    NewUser inactive = newUser(orgId, "inactive@example.com");
    inactive.salesforceUserId = "005000000000003AAA";
    inactive.active = false;
    store.createUser(inactive, kFirstNewLegacyId);
    NewUser elsewhere = newUser(otherOrgId, "elsewhere@example.com");
    elsewhere.salesforceUserId = "005000000000004AAA";
    store.createUser(elsewhere, kFirstNewLegacyId);

    EXPECT_TRUE(store.hasActiveEndUser(orgId, "005000000000002AAA", {}));
    EXPECT_TRUE(store.hasActiveEndUser(orgId, "005000000000002aaa", {}));
    EXPECT_TRUE(store.hasActiveEndUser(orgId, "005000000000009AAA", {"nobody@example.com", "ada@example.com"}));
    EXPECT_FALSE(store.hasActiveEndUser(orgId, "005000000000003AAA", {"inactive@example.com"}));
    EXPECT_FALSE(store.hasActiveEndUser(orgId, "005000000000004AAA", {"elsewhere@example.com"}));
    EXPECT_FALSE(store.hasActiveEndUser(orgId, "005000000000009AAA", {}));
}

// --- the connection state machine ---

TYPED_TEST(StoreConformanceTest, AbsentConnectionReadsAsNotConnectedAtVersionZero) {
    const std::int64_t orgId = this->newOrganization();
    Connection expected;
    expected.orgId = orgId;
    EXPECT_EQ(fieldsOf(this->store().loadConnection(orgId)), fieldsOf(expected));
    EXPECT_FALSE(this->store().loadAccessToken(orgId));
}

TYPED_TEST(StoreConformanceTest, TransitionWritesEveryFieldAndBumpsTheVersion) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    Connection connected = connectedConnection(orgId, "refresh-1");
    connected.environment = Environment::Sandbox;
    connected.authorizationMethod = "oauth_jwt";
    connected.lastRefreshAt = kNow + 5;
    connected.changedByAdminAt = kNow + 6;
    connected.version = 77;  // ignored: the store counts versions

    ASSERT_TRUE(store.applyTransition(transitionTo(connected, 0)));
    Connection expected = connected;
    expected.version = 1;
    EXPECT_EQ(fieldsOf(store.loadConnection(orgId)), fieldsOf(expected));

    Connection disconnected;
    disconnected.orgId = orgId;
    disconnected.environment = Environment::Sandbox;
    disconnected.statusChangedAt = kNow + 10;
    ASSERT_TRUE(store.applyTransition(transitionTo(disconnected, 1)));
    expected = disconnected;
    expected.version = 2;
    EXPECT_EQ(fieldsOf(store.loadConnection(orgId)), fieldsOf(expected));

    ASSERT_TRUE(store.applyTransition(transitionTo(connected, std::nullopt)));
    expected = connected;
    expected.version = 3;
    EXPECT_EQ(fieldsOf(store.loadConnection(orgId)), fieldsOf(expected));
}

TYPED_TEST(StoreConformanceTest, TransitionWithAStaleVersionWritesNothing) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    const User user = store.createUser(newUser(orgId, "ada@example.com"), kFirstNewLegacyId);
    ASSERT_EQ(this->connect(orgId, "refresh-1"), 1);
    this->storeAccessToken(orgId, "refresh-1", "access-1");
    const Connection before = store.loadConnection(orgId);
    const auto eventsBefore = store.listEvents(orgId, kNewestFirst, 100);

    ConnectionTransition stale = transitionTo(disconnectedConnection(orgId, "refresh-1"), before.version - 1);
    stale.users = UserEffect::SuspendActiveUsers;
    stale.suspendReason = "lost";
    stale.forgetAccessToken = true;
    stale.events = {event(orgId, EventType::Lost, kNow + 1)};
    EXPECT_FALSE(store.applyTransition(stale));

    EXPECT_EQ(fieldsOf(store.loadConnection(orgId)), fieldsOf(before));
    EXPECT_EQ(fieldsOf(*store.findUser(user.legacyId)), fieldsOf(user));
    ASSERT_TRUE(store.loadAccessToken(orgId));
    EXPECT_EQ(store.loadAccessToken(orgId)->token.ciphertext, "access-1");
    EXPECT_EQ(fieldsOfAll(store.listEvents(orgId, kNewestFirst, 100)), fieldsOfAll(eventsBefore));

    // The version the caller read is the only one that writes.
    stale.expectedVersion = before.version;
    EXPECT_TRUE(store.applyTransition(stale));
    EXPECT_FALSE(store.applyTransition(stale));
    EXPECT_EQ(store.loadConnection(orgId).version, before.version + 1);
}

TYPED_TEST(StoreConformanceTest, ConcurrentTransitionsFromOneVersionHaveExactlyOneWinner) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    // From the absent row (version 0), then from the row the first race wrote.
    for (const std::int64_t readVersion : {0, 1}) {
        const auto applied = testsupport::runTogether(kThreads, [&](int thread) {
            ConnectionTransition login =
                transitionTo(connectedConnection(orgId, "refresh-" + std::to_string(thread)), readVersion);
            login.events = {event(orgId, EventType::Connected, kNow + thread)};
            return store.applyTransition(login);
        });

        ASSERT_EQ(std::count(applied.begin(), applied.end(), true), 1) << "from version " << readVersion;
        const auto winner = std::find(applied.begin(), applied.end(), true) - applied.begin();
        const Connection written = store.loadConnection(orgId);
        EXPECT_EQ(written.version, readVersion + 1);
        EXPECT_EQ(fieldsOf(written.refreshToken), fieldsOf(sealed("refresh-" + std::to_string(winner))));
        const auto events = store.listEvents(orgId, kNewestFirst, 100);
        ASSERT_EQ(events.size(), static_cast<std::size_t>(readVersion + 1));
        EXPECT_EQ(events.front().at, kNow + winner);
    }
}

TYPED_TEST(StoreConformanceTest, LossSuspendsActiveUsersAndALoginLiftsExactlyThoseSuspensions) {
    Store& store = this->store();
    constexpr std::int64_t orgId = 1042;
    MigratedOrganization legacy = migratedOrganization(orgId, "fingerprint");
    User active = migratedUser(1, orgId, "active@example.com");
    User inactive = migratedUser(2, orgId, "inactive@example.com");
    inactive.active = false;
    User suspendedByHand = migratedUser(3, orgId, "manual@example.com");
    suspendedByHand.syncSuspended = true;
    suspendedByHand.suspendReason = "suspended by an admin";
    legacy.users = {active, inactive, suspendedByHand};
    ASSERT_EQ(store.writeMigratedOrganization(legacy), MigrationWrite::Written);
    const User panelUser = store.createUser(newUser(orgId, "panel@example.com"), kFirstNewLegacyId);
    const std::int64_t otherOrgId = this->newOrganization();
    const User bystander = store.createUser(newUser(otherOrgId, "bystander@example.com"), kFirstNewLegacyId);
    ASSERT_EQ(this->connect(orgId, "refresh-1"), 1);

    ConnectionTransition lost = transitionTo(disconnectedConnection(orgId, "refresh-1"), 1);
    lost.users = UserEffect::SuspendActiveUsers;
    lost.suspendReason = "Salesforce connection lost";
    ASSERT_TRUE(store.applyTransition(lost));

    auto suspendedByLoss = [](User user) {
        user.syncSuspended = true;
        user.suspendReason = "Salesforce connection lost";
        user.suspendedByLoss = true;
        return user;
    };
    EXPECT_EQ(fieldsOf(*store.findUser(active.legacyId)), fieldsOf(suspendedByLoss(active)));
    EXPECT_EQ(fieldsOf(*store.findUser(panelUser.legacyId)), fieldsOf(suspendedByLoss(panelUser)));
    EXPECT_EQ(fieldsOf(*store.findUser(inactive.legacyId)), fieldsOf(inactive));
    EXPECT_EQ(fieldsOf(*store.findUser(suspendedByHand.legacyId)), fieldsOf(suspendedByHand));
    EXPECT_EQ(fieldsOf(*store.findUser(bystander.legacyId)), fieldsOf(bystander));

    ConnectionTransition relogin = transitionTo(connectedConnection(orgId, "refresh-2"), 2);
    relogin.users = UserEffect::LiftLossSuspensions;
    ASSERT_TRUE(store.applyTransition(relogin));

    EXPECT_EQ(fieldsOf(*store.findUser(active.legacyId)), fieldsOf(active));
    EXPECT_EQ(fieldsOf(*store.findUser(panelUser.legacyId)), fieldsOf(panelUser));
    EXPECT_EQ(fieldsOf(*store.findUser(inactive.legacyId)), fieldsOf(inactive));
    EXPECT_EQ(fieldsOf(*store.findUser(suspendedByHand.legacyId)), fieldsOf(suspendedByHand));
    EXPECT_EQ(fieldsOf(*store.findUser(bystander.legacyId)), fieldsOf(bystander));
}

TYPED_TEST(StoreConformanceTest, AccessTokenIsForgottenOnRequestAndByATransitionThatSaysSo) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization("One");
    const std::int64_t otherOrgId = this->newOrganization("Two");
    ASSERT_EQ(this->connect(orgId, "refresh-1"), 1);
    ASSERT_EQ(this->connect(otherOrgId, "refresh-other"), 1);
    this->storeAccessToken(orgId, "refresh-1", "access-1");
    this->storeAccessToken(otherOrgId, "refresh-other", "access-other");

    store.invalidateAccessToken(orgId);
    EXPECT_FALSE(store.loadAccessToken(orgId));
    ASSERT_TRUE(store.loadAccessToken(otherOrgId));
    EXPECT_EQ(fieldsOf(*store.loadAccessToken(otherOrgId)), fieldsOf(accessToken("access-other")));

    this->storeAccessToken(orgId, "refresh-1", "access-2");
    const std::int64_t version = store.loadConnection(orgId).version;
    ASSERT_TRUE(store.applyTransition(transitionTo(connectedConnection(orgId, "refresh-1"), version)));
    EXPECT_TRUE(store.loadAccessToken(orgId)) << "a transition keeps the token unless it says otherwise";

    ConnectionTransition disconnect = transitionTo(disconnectedConnection(orgId, "refresh-1"), version + 1);
    disconnect.forgetAccessToken = true;
    ASSERT_TRUE(store.applyTransition(disconnect));
    EXPECT_FALSE(store.loadAccessToken(orgId));
    EXPECT_TRUE(store.loadAccessToken(otherOrgId));
}

TYPED_TEST(StoreConformanceTest, InvalidationsAreNumberedStoreWideAndListedByTheirLatestGeneration) {
    Store& store = this->store();
    const std::int64_t one = this->newOrganization("One");
    const std::int64_t two = this->newOrganization("Two");
    const std::int64_t neverConnected = this->newOrganization("Three");
    ASSERT_EQ(this->connect(one, "refresh-1"), 1);
    ASSERT_EQ(this->connect(two, "refresh-2"), 1);
    this->storeAccessToken(one, "refresh-1", "access-1");
    this->storeAccessToken(two, "refresh-2", "access-2");
    EXPECT_EQ(store.latestAccessTokenInvalidation(), 0);
    EXPECT_TRUE(store.listAccessTokenInvalidationsAfter(0).empty());

    EXPECT_EQ(store.invalidateAccessToken(one), 1);
    EXPECT_FALSE(store.loadAccessToken(one));
    EXPECT_TRUE(store.loadAccessToken(two)) << "only the named organization's token goes";
    EXPECT_EQ(store.latestAccessTokenInvalidation(), 1);
    EXPECT_EQ(fieldsOfAll(store.listAccessTokenInvalidationsAfter(0)),
              fieldsOfAll(std::vector<AccessTokenInvalidation>{{one, 1}}));

    EXPECT_EQ(store.invalidateAccessToken(two), 2);
    EXPECT_EQ(store.invalidateAccessToken(neverConnected), 3) << "an organization without a token is numbered too";
    EXPECT_EQ(store.invalidateAccessToken(one), 4);
    EXPECT_FALSE(store.loadAccessToken(two));
    EXPECT_EQ(store.latestAccessTokenInvalidation(), 4);
    // Each organization once, with its latest generation, oldest first.
    EXPECT_EQ(fieldsOfAll(store.listAccessTokenInvalidationsAfter(0)),
              fieldsOfAll(std::vector<AccessTokenInvalidation>{{two, 2}, {neverConnected, 3}, {one, 4}}));
    EXPECT_EQ(fieldsOfAll(store.listAccessTokenInvalidationsAfter(2)),
              fieldsOfAll(std::vector<AccessTokenInvalidation>{{neverConnected, 3}, {one, 4}}));
    EXPECT_TRUE(store.listAccessTokenInvalidationsAfter(4).empty());

    // A refresh after the invalidation stores a token again; the invalidation stays recorded.
    this->storeAccessToken(one, "refresh-1", "access-3");
    EXPECT_TRUE(store.loadAccessToken(one));
    EXPECT_EQ(store.latestAccessTokenInvalidation(), 4);
}

// What an instance's reader relies on: whoever reads the invalidations after generation g sees g + 1, g + 2, ...
// without a gap, however many invalidations commit at once (here the store's very first ones, which also race to
// create its counter).
TYPED_TEST(StoreConformanceTest, ConcurrentInvalidationsCommitInTheOrderOfTheirGenerations) {
    constexpr int kEach = 10;
    Store& store = this->store();
    std::vector<std::int64_t> organizations;
    for (int index = 0; index < kThreads * kEach; ++index) {
        organizations.push_back(this->newOrganization("Org " + std::to_string(index)));
    }

    std::atomic<int> writersDone{0};
    std::vector<std::int64_t> seenInOrder;
    std::thread reader([&] {
        std::int64_t seen = 0;
        while (true) {
            const bool lastRead = writersDone == kThreads;
            for (const AccessTokenInvalidation& invalidation : store.listAccessTokenInvalidationsAfter(seen)) {
                seenInOrder.push_back(invalidation.generation);
                seen = invalidation.generation;
            }
            if (lastRead) return;
        }
    });
    const auto generations = testsupport::runTogether(kThreads, [&](int thread) {
        std::vector<std::int64_t> mine;
        for (int i = 0; i < kEach; ++i) {
            mine.push_back(store.invalidateAccessToken(organizations[static_cast<std::size_t>(thread * kEach + i)]));
        }
        ++writersDone;
        return mine;
    });
    reader.join();

    std::vector<std::int64_t> handedOut;
    for (const auto& mine : generations) {
        EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
        handedOut.insert(handedOut.end(), mine.begin(), mine.end());
    }
    std::sort(handedOut.begin(), handedOut.end());
    EXPECT_EQ(handedOut, consecutiveIds(1, kThreads * kEach));
    EXPECT_EQ(seenInOrder, consecutiveIds(1, kThreads * kEach)) << "a reader saw a generation before an earlier one";
    EXPECT_EQ(store.latestAccessTokenInvalidation(), kThreads * kEach);
}

// What an invalidation waits for (TokenBroker::invalidate): the instances whose record is live and shows less.
TYPED_TEST(StoreConformanceTest, InstancesBehindAnInvalidationAreTheLiveOnesThatAppliedLess) {
    Store& store = this->store();
    EXPECT_EQ(store.countInstancesBehind(1), 0);
    store.recordAppliedInvalidation("a", 1, 60s);
    store.recordAppliedInvalidation("b", 3, 60s);
    EXPECT_EQ(store.countInstancesBehind(1), 0);
    EXPECT_EQ(store.countInstancesBehind(2), 1);
    EXPECT_EQ(store.countInstancesBehind(4), 2);
    store.recordAppliedInvalidation("a", 5, 60s);
    store.recordAppliedInvalidation("a", 5, 60s);  // the same again, within the same millisecond or not
    EXPECT_EQ(store.countInstancesBehind(4), 1);
    store.forgetInstance("b");
    EXPECT_EQ(store.countInstancesBehind(4), 0);

    // A record lapses by the database's clock; recorded again, it counts again.
    const auto recorded = Clock::now();
    store.recordAppliedInvalidation("c", 0, 300ms);
    EXPECT_EQ(store.countInstancesBehind(1), 1);
    while (store.countInstancesBehind(1) > 0) {
        ASSERT_LT(Clock::now() - recorded, 5s) << "the record never lapsed";
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_GE(Clock::now() - recorded, 280ms);
    store.recordAppliedInvalidation("c", 0, 60s);
    EXPECT_EQ(store.countInstancesBehind(1), 1);
}

TYPED_TEST(StoreConformanceTest, SchemaVersion3UpgradesAStoreAtVersion2AndKeepsItsTokens) {
    const std::string dsn = this->backend_.freshDsn();
    auto store = openStore(dsn, kPoolSize);
    const auto& versions = migrations::schemaVersions(store->sqlDialect());
    ASSERT_GE(versions.size(), 3u);
    ASSERT_EQ(versions[2].version, 3);
    ASSERT_EQ(store->applySchema({versions[0], versions[1]}), 2);
    const std::int64_t orgId = store->createOrganization("Before version 3", kFirstNewLegacyId).legacyId;
    ASSERT_TRUE(store->applyTransition(transitionTo(connectedConnection(orgId, "refresh-1"), 0)));
    ASSERT_TRUE(store->tryAcquireRefreshLease(orgId, "broker-setup", std::chrono::seconds(60)));
    ASSERT_TRUE(store->commitRefresh(refreshOutcome(orgId, "broker-setup", "refresh-1", "access-1")));

    EXPECT_EQ(migrations::upgradeSchema(*store), versions.back().version);
    ASSERT_TRUE(store->loadAccessToken(orgId));
    EXPECT_EQ(fieldsOf(*store->loadAccessToken(orgId)), fieldsOf(accessToken("access-1")));
    EXPECT_EQ(store->latestAccessTokenInvalidation(), 0);
    EXPECT_EQ(store->invalidateAccessToken(orgId), 1);
    EXPECT_FALSE(store->loadAccessToken(orgId));
}

TYPED_TEST(StoreConformanceTest, EventsOfATransitionAreListedNewestFirstWithPaging) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization("One");
    const std::int64_t otherOrgId = this->newOrganization("Two");
    const EventType everyType[] = {EventType::LoginStarted,        EventType::Connected, EventType::LoginRefused,
                                   EventType::ToggleChanged,       EventType::Lost,      EventType::Disconnected,
                                   EventType::RefreshTokenRotated, EventType::Migrated,  EventType::AccessTokenRefused};
    std::vector<Event> written;
    for (auto type : everyType) {
        written.push_back(event(orgId, type, kNow + static_cast<UnixSeconds>(written.size())));
        store.appendEvent(written.back());
    }
    Event bare;
    bare.orgId = orgId;
    bare.at = kNow + 100;
    bare.type = EventType::ToggleChanged;
    written.push_back(bare);
    store.appendEvent(bare);
    store.appendEvent(event(otherOrgId, EventType::Connected, kNow));
    ConnectionTransition connect = transitionTo(connectedConnection(orgId, "refresh-1"), 0);
    connect.events = {event(orgId, EventType::Connected, kNow + 200),
                      event(orgId, EventType::ToggleChanged, kNow + 201)};
    connect.events.back().panel = Panel::Legacy;
    ASSERT_TRUE(store.applyTransition(connect));
    written.insert(written.end(), connect.events.begin(), connect.events.end());

    std::vector<Event> listed;
    std::vector<std::size_t> pageSizes;
    std::int64_t before = kNewestFirst;
    while (true) {
        const auto page = store.listEvents(orgId, before, 4);
        if (page.empty()) break;
        pageSizes.push_back(page.size());
        listed.insert(listed.end(), page.begin(), page.end());
        before = page.back().id;
    }

    EXPECT_EQ(pageSizes, (std::vector<std::size_t>{4, 4, 4}));
    std::reverse(written.begin(), written.end());
    EXPECT_EQ(fieldsOfAll(listed), fieldsOfAll(written));
    for (std::size_t index = 1; index < listed.size(); ++index) EXPECT_GT(listed[index - 1].id, listed[index].id);
}

// --- OAuth login attempts ---

TYPED_TEST(StoreConformanceTest, OAuthAttemptIsConsumedOnce) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    const OAuthAttempt attempt = oauthAttempt(orgId, "state-hash-1", kNow + 600);
    store.insertOAuthAttempt(attempt);
    store.insertOAuthAttempt(oauthAttempt(orgId, "state-hash-2", kNow + 600));

    const auto consumed = store.consumeOAuthAttempt("state-hash-1", kNow);
    ASSERT_TRUE(consumed);
    EXPECT_EQ(fieldsOf(*consumed), fieldsOf(attempt));
    EXPECT_FALSE(store.consumeOAuthAttempt("state-hash-1", kNow));
    EXPECT_FALSE(store.consumeOAuthAttempt("no-such-state", kNow));
    EXPECT_TRUE(store.consumeOAuthAttempt("state-hash-2", kNow));

    // Used or not, an attempt can still be looked up (a refused callback goes back to its panel).
    const auto used = store.findOAuthAttempt("state-hash-1");
    ASSERT_TRUE(used);
    EXPECT_EQ(fieldsOf(*used), fieldsOf(attempt));
    EXPECT_FALSE(store.findOAuthAttempt("no-such-state"));
}

TYPED_TEST(StoreConformanceTest, ExpiredOAuthAttemptIsRefused) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    store.insertOAuthAttempt(oauthAttempt(orgId, "expired", kNow - 1));
    store.insertOAuthAttempt(oauthAttempt(orgId, "expiring", kNow + 1));

    EXPECT_FALSE(store.consumeOAuthAttempt("expired", kNow));
    EXPECT_FALSE(store.consumeOAuthAttempt("expiring", kNow + 1));
    EXPECT_TRUE(store.consumeOAuthAttempt("expiring", kNow));
    ASSERT_TRUE(store.findOAuthAttempt("expired"));
    EXPECT_EQ(fieldsOf(*store.findOAuthAttempt("expired")), fieldsOf(oauthAttempt(orgId, "expired", kNow - 1)));
}

TYPED_TEST(StoreConformanceTest, ConcurrentConsumersOfOneStateHaveExactlyOneWinner) {
    constexpr int kRounds = 5;
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    for (int round = 0; round < kRounds; ++round) {
        const std::string stateHash = "contested-" + std::to_string(round);
        store.insertOAuthAttempt(oauthAttempt(orgId, stateHash, kNow + 600));
        const auto consumed =
            testsupport::runTogether(kThreads, [&](int) { return store.consumeOAuthAttempt(stateHash, kNow); });
        EXPECT_EQ(
            std::count_if(consumed.begin(), consumed.end(), [](const auto& attempt) { return attempt.has_value(); }), 1)
            << "round " << round;
    }
}

// --- refresh leases ---

TYPED_TEST(StoreConformanceTest, OneLeaderAmongManyContenders) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    auto race = [&](std::chrono::milliseconds duration) {
        return testsupport::runTogether(kThreads, [&](int thread) {
            return store.tryAcquireRefreshLease(orgId, "instance-" + std::to_string(thread), duration);
        });
    };

    const auto firstRace = race(300ms);  // no lease row yet
    EXPECT_EQ(std::count(firstRace.begin(), firstRace.end(), true), 1);
    const auto whileHeld = race(300ms);
    EXPECT_EQ(whileHeld, firstRace) << "only the holder itself gets the held lease again";
    std::this_thread::sleep_for(400ms);
    const auto afterExpiry = race(60'000ms);
    EXPECT_EQ(std::count(afterExpiry.begin(), afterExpiry.end(), true), 1);
}

// The lease's times are the database's: the store takes a duration, never a host's time, so the hosts' clocks
// cannot make a lease end early or late.
TYPED_TEST(StoreConformanceTest, LeaseExpiresByTheDatabaseClockAfterItsDuration) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    const auto taken = Clock::now();
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "a", 400ms));
    EXPECT_FALSE(store.tryAcquireRefreshLease(orgId, "b", 400ms));
    while (!store.tryAcquireRefreshLease(orgId, "b", 400ms)) {
        ASSERT_LT(Clock::now() - taken, 5s) << "the lease never expired";
        std::this_thread::sleep_for(20ms);
    }
    // Neither early (the database's clock runs like this host's) nor much late.
    EXPECT_GE(Clock::now() - taken, 380ms);
    EXPECT_FALSE(store.tryAcquireRefreshLease(orgId, "a", 400ms));
    // Leases are per organization.
    EXPECT_TRUE(store.tryAcquireRefreshLease(this->newOrganization("Other"), "a", 400ms));
    // A lease of no duration has ended at once.
    const std::int64_t brief = this->newOrganization("Brief");
    ASSERT_TRUE(store.tryAcquireRefreshLease(brief, "a", 0ms));
    EXPECT_TRUE(store.tryAcquireRefreshLease(brief, "b", 0ms));
}

TYPED_TEST(StoreConformanceTest, RenewedLeaseOutlivesItsFirstDuration) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    const auto taken = Clock::now();
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "holder", 300ms));
    // Renewed every 100 ms for three lease durations: no one else gets it meanwhile.
    while (Clock::now() - taken < 900ms) {
        ASSERT_TRUE(store.renewRefreshLease(orgId, "holder", 300ms));
        EXPECT_FALSE(store.tryAcquireRefreshLease(orgId, "contender", 300ms));
        std::this_thread::sleep_for(100ms);
    }
    // Two renewals within one millisecond are both "still held".
    EXPECT_TRUE(store.renewRefreshLease(orgId, "holder", 300ms));
    EXPECT_TRUE(store.renewRefreshLease(orgId, "holder", 300ms));
    // Renewal is the holder's only.
    EXPECT_FALSE(store.renewRefreshLease(orgId, "contender", 300ms));
    EXPECT_FALSE(store.renewRefreshLease(this->newOrganization("No lease yet"), "holder", 300ms));
}

TYPED_TEST(StoreConformanceTest, RenewalFailsOnceTheLeaseWasLost) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    // Expired, and taken by another owner.
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "slow", 0ms));
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "fast", 60'000ms));
    EXPECT_FALSE(store.renewRefreshLease(orgId, "slow", 60'000ms));
    EXPECT_TRUE(store.renewRefreshLease(orgId, "fast", 60'000ms));
    // Released.
    store.releaseRefreshLease(orgId, "fast");
    EXPECT_FALSE(store.renewRefreshLease(orgId, "fast", 60'000ms));
    // Expired with no one taking it since: lost too, and a renewal does not bring it back.
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "late", 0ms));
    EXPECT_FALSE(store.renewRefreshLease(orgId, "late", 60'000ms));
    EXPECT_TRUE(store.tryAcquireRefreshLease(orgId, "next", 60'000ms));
}

TYPED_TEST(StoreConformanceTest, OnlyTheOwnerReleasesTheLease) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "a", 60'000ms));
    store.releaseRefreshLease(orgId, "b");
    EXPECT_FALSE(store.tryAcquireRefreshLease(orgId, "c", 60'000ms));
    store.releaseRefreshLease(orgId, "a");
    EXPECT_TRUE(store.tryAcquireRefreshLease(orgId, "c", 60'000ms));
    EXPECT_FALSE(store.tryAcquireRefreshLease(orgId, "a", 60'000ms));
}

TYPED_TEST(StoreConformanceTest, LeaseIsReentrantForItsOwner) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "a", 0ms));
    EXPECT_TRUE(store.tryAcquireRefreshLease(orgId, "a", 60'000ms));
    // Taking it again extended it.
    EXPECT_FALSE(store.tryAcquireRefreshLease(orgId, "b", 60'000ms));
}

// --- refresh results ---

TYPED_TEST(StoreConformanceTest, CommitRefreshStoresTheRotatedRefreshTokenAndTheAccessTokenTogether) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    ASSERT_EQ(this->connect(orgId, "refresh-1"), 1);
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "leader", 60'000ms));
    RefreshOutcome outcome = refreshOutcome(orgId, "leader", "refresh-1", "access-1");
    outcome.rotatedRefreshToken = SealedToken{"key-2", "refresh-2"};
    outcome.events = {event(orgId, EventType::RefreshTokenRotated, kNow + 60)};

    ASSERT_TRUE(store.commitRefresh(outcome));

    Connection expected = connectedConnection(orgId, "refresh-1");
    expected.refreshToken = SealedToken{"key-2", "refresh-2"};
    expected.lastRefreshAt = kNow + 60;
    expected.version = 2;
    EXPECT_EQ(fieldsOf(store.loadConnection(orgId)), fieldsOf(expected));
    ASSERT_TRUE(store.loadAccessToken(orgId));
    EXPECT_EQ(fieldsOf(*store.loadAccessToken(orgId)), fieldsOf(accessToken("access-1")));
    EXPECT_EQ(fieldsOfAll(store.listEvents(orgId, kNewestFirst, 1)), fieldsOfAll(outcome.events));

    // The old refresh token is gone: a second commit presenting it writes nothing.
    EXPECT_FALSE(store.commitRefresh(refreshOutcome(orgId, "leader", "refresh-1", "access-stale")));
    EXPECT_EQ(store.loadAccessToken(orgId)->token.ciphertext, "access-1");
}

TYPED_TEST(StoreConformanceTest, CommitRefreshWithoutRotationKeepsTheRefreshTokenAndReplacesTheAccessToken) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    ASSERT_EQ(this->connect(orgId, "refresh-1"), 1);
    this->storeAccessToken(orgId, "refresh-1", "access-1");
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "leader", 60'000ms));
    RefreshOutcome outcome = refreshOutcome(orgId, "leader", "refresh-1", "access-2");
    outcome.accessToken.expiresAt = kNow + 1800;
    outcome.refreshedAt = kNow + 120;

    ASSERT_TRUE(store.commitRefresh(outcome));

    Connection expected = connectedConnection(orgId, "refresh-1");
    expected.lastRefreshAt = kNow + 120;
    expected.version = 3;
    EXPECT_EQ(fieldsOf(store.loadConnection(orgId)), fieldsOf(expected));
    ASSERT_TRUE(store.loadAccessToken(orgId));
    EXPECT_EQ(fieldsOf(*store.loadAccessToken(orgId)), fieldsOf(outcome.accessToken));
}

TYPED_TEST(StoreConformanceTest, CommitRefreshRefusesWhenTheLeaseMovedToAnotherOwner) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    ASSERT_EQ(this->connect(orgId, "refresh-1"), 1);
    const Connection before = store.loadConnection(orgId);
    RefreshOutcome outcome = refreshOutcome(orgId, "slow", "refresh-1", "access-1");
    outcome.rotatedRefreshToken = sealed("refresh-2");
    outcome.events = {event(orgId, EventType::RefreshTokenRotated, kNow + 60)};
    EXPECT_FALSE(store.commitRefresh(outcome)) << "no lease at all";

    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "slow", 0ms));
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "fast", 60'000ms));
    EXPECT_FALSE(store.commitRefresh(outcome));

    EXPECT_EQ(fieldsOf(store.loadConnection(orgId)), fieldsOf(before));
    EXPECT_FALSE(store.loadAccessToken(orgId));
    EXPECT_TRUE(store.listEvents(orgId, kNewestFirst, 10).empty());
}

TYPED_TEST(StoreConformanceTest, RotatedRefreshTokenIsStoredAloneByTheLeaseOwnerOnThePresentedToken) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    ASSERT_EQ(this->connect(orgId, "refresh-1"), 1);
    const RotatedRefreshToken rotation{orgId, "leader", "refresh-1", SealedToken{"key-2", "refresh-2"}};
    EXPECT_FALSE(store.storeRotatedRefreshToken(rotation)) << "no lease at all";

    // The lease expired, but no one took it since: the presented token cannot have been presented again.
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "leader", 0ms));
    ASSERT_TRUE(store.storeRotatedRefreshToken(rotation));
    Connection expected = connectedConnection(orgId, "refresh-1");
    expected.refreshToken = SealedToken{"key-2", "refresh-2"};
    expected.version = 2;
    EXPECT_EQ(fieldsOf(store.loadConnection(orgId)), fieldsOf(expected));
    EXPECT_FALSE(store.loadAccessToken(orgId)) << "only the refresh token";
    EXPECT_TRUE(store.listEvents(orgId, kNewestFirst, 10).empty());
    // Written once: the connection no longer holds the presented token.
    EXPECT_FALSE(store.storeRotatedRefreshToken(rotation));

    // The access token follows on the connection that now holds the rotated token.
    ASSERT_TRUE(store.commitRefresh(refreshOutcome(orgId, "leader", "refresh-2", "access-1")));
    EXPECT_EQ(store.loadConnection(orgId).refreshToken->ciphertext, "refresh-2");
    EXPECT_EQ(store.loadAccessToken(orgId)->token.ciphertext, "access-1");

    // Another owner took the lease: nothing is written.
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "leader", 0ms));
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "other", 60'000ms));
    EXPECT_FALSE(store.storeRotatedRefreshToken({orgId, "leader", "refresh-2", sealed("refresh-3")}));
    EXPECT_EQ(store.loadConnection(orgId).refreshToken->ciphertext, "refresh-2");

    // A disconnected connection takes no rotated token, even on the presented one.
    const Connection current = store.loadConnection(orgId);
    ASSERT_TRUE(store.applyTransition(transitionTo(disconnectedConnection(orgId, "refresh-2"), current.version)));
    EXPECT_FALSE(store.storeRotatedRefreshToken({orgId, "other", "refresh-2", sealed("refresh-3")}));
    EXPECT_EQ(store.loadConnection(orgId).refreshToken->ciphertext, "refresh-2");
}

TYPED_TEST(StoreConformanceTest, CommitRefreshRefusesWhenTheConnectionNoLongerHoldsThePresentedToken) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    ASSERT_EQ(this->connect(orgId, "refresh-1"), 1);
    ASSERT_TRUE(store.tryAcquireRefreshLease(orgId, "leader", 60'000ms));
    RefreshOutcome outcome = refreshOutcome(orgId, "leader", "refresh-1", "access-1");
    outcome.rotatedRefreshToken = sealed("refresh-rotated");

    // An admin logged in again while the refresh was under way.
    ASSERT_EQ(this->connect(orgId, "refresh-new-login"), 2);
    const Connection relogged = store.loadConnection(orgId);
    EXPECT_FALSE(store.commitRefresh(outcome));
    EXPECT_EQ(fieldsOf(store.loadConnection(orgId)), fieldsOf(relogged));
    EXPECT_FALSE(store.loadAccessToken(orgId));

    // An admin disconnected while the refresh was under way (the row still holds the token, but not connected).
    outcome.presentedRefreshCiphertext = "refresh-new-login";
    ASSERT_TRUE(store.applyTransition(transitionTo(disconnectedConnection(orgId, "refresh-new-login"), 2)));
    const Connection disconnected = store.loadConnection(orgId);
    EXPECT_FALSE(store.commitRefresh(outcome));
    EXPECT_EQ(fieldsOf(store.loadConnection(orgId)), fieldsOf(disconnected));
    EXPECT_FALSE(store.loadAccessToken(orgId));
}

TYPED_TEST(StoreConformanceTest, IdleConnectionsAreConnectedOnesNotRefreshedSinceTheCutoffLeastRecentlyTriedFirst) {
    Store& store = this->store();
    auto connectedWithLastRefresh = [&](std::optional<UnixSeconds> lastRefreshAt) {
        const std::int64_t orgId = this->newOrganization();
        Connection connection = connectedConnection(orgId, "refresh-" + std::to_string(orgId));
        connection.lastRefreshAt = lastRefreshAt;
        EXPECT_TRUE(store.applyTransition(transitionTo(connection, 0)));
        return orgId;
    };
    const std::int64_t longIdle = connectedWithLastRefresh(kNow - 90'000);
    connectedWithLastRefresh(kNow - 10);
    const std::int64_t neverRefreshed = connectedWithLastRefresh(std::nullopt);
    const std::int64_t idleAtTheCutoff = connectedWithLastRefresh(kNow - 86'400);
    const std::int64_t lost = this->newOrganization();
    Connection lostConnection = disconnectedConnection(lost, "refresh-lost");
    lostConnection.lastRefreshAt = kNow - 90'000;
    ASSERT_TRUE(store.applyTransition(transitionTo(lostConnection, 0)));
    this->newOrganization();  // never connected

    EXPECT_EQ(store.listIdleConnections(kNow - 86'400, 10), (std::vector<std::int64_t>{longIdle, neverRefreshed}));
    EXPECT_EQ(store.listIdleConnections(kNow - 86'399, 10),
              (std::vector<std::int64_t>{longIdle, neverRefreshed, idleAtTheCutoff}));
    EXPECT_EQ(store.listIdleConnections(kNow - 86'400, 1), (std::vector<std::int64_t>{longIdle}));

    // Keep-alive's attempts, successful or not, send a connection to the back of the queue.
    store.recordKeepAliveAttempt(longIdle, kNow);
    EXPECT_EQ(store.listIdleConnections(kNow - 86'400, 10), (std::vector<std::int64_t>{neverRefreshed, longIdle}));
    EXPECT_EQ(store.listIdleConnections(kNow - 86'400, 1), (std::vector<std::int64_t>{neverRefreshed}));
    store.recordKeepAliveAttempt(neverRefreshed, kNow + 1);
    EXPECT_EQ(store.listIdleConnections(kNow - 86'400, 1), (std::vector<std::int64_t>{longIdle}));
}

// --- webhook notifications (the outbox) and the delivery lease ---

Notification notification(std::int64_t orgId, std::string id, NotificationType type, UnixMillis createdAtMs) {
    Notification notification;
    notification.id = std::move(id);
    notification.orgId = orgId;
    notification.type = type;
    notification.environment = Environment::Sandbox;
    if (type == NotificationType::ConnectionLost) notification.reason = "invalid_grant";
    notification.occurredAt = createdAtMs / 1000;
    notification.createdAtMs = createdAtMs;
    return notification;
}

// One notification written through a transition of the organization's connection (connect, then lose it).
void enqueue(Store& store, std::int64_t orgId, const std::string& id, UnixMillis createdAtMs) {
    const Connection current = store.loadConnection(orgId);
    const bool connected = current.status == ConnectionStatus::Connected;
    ConnectionTransition transition = transitionTo(
        connected ? disconnectedConnection(orgId, "refresh") : connectedConnection(orgId, "refresh"), current.version);
    transition.notification = notification(
        orgId, id, connected ? NotificationType::ConnectionLost : NotificationType::ConnectionRecovered, createdAtMs);
    ASSERT_TRUE(store.applyTransition(transition));
}

std::vector<std::string> idsOf(const std::vector<Notification>& notifications) {
    std::vector<std::string> ids;
    for (const auto& each : notifications) ids.push_back(each.id);
    return ids;
}

DeliveryAttempt deliveryAttempt(const Notification& notification, std::string owner, DeliveryState outcome,
                                UnixMillis atMs, UnixMillis nextAttemptAtMs, std::optional<std::string> error) {
    DeliveryAttempt attempt;
    attempt.sequence = notification.sequence;
    attempt.leaseOwner = std::move(owner);
    attempt.atMs = atMs;
    attempt.outcome = outcome;
    attempt.nextAttemptAtMs = nextAttemptAtMs;
    attempt.error = std::move(error);
    return attempt;
}

TYPED_TEST(StoreConformanceTest, TransitionWritesItsNotificationWithTheUsersItChangedAndAStaleOneWritesNone) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    store.createUser(newUser(orgId, "one@example.com"), kFirstNewLegacyId);
    store.createUser(newUser(orgId, "two@example.com"), kFirstNewLegacyId);
    const User inactive = store.createUser(newUser(orgId, "three@example.com"), kFirstNewLegacyId);
    UserChanges deactivate;
    deactivate.active = false;
    store.updateUser(inactive.legacyId, deactivate);
    ASSERT_EQ(this->connect(orgId, "refresh-1"), 1);

    ConnectionTransition lost = transitionTo(disconnectedConnection(orgId, "refresh-1"), 1);
    lost.users = UserEffect::SuspendActiveUsers;
    lost.suspendReason = "invalid_grant: expired access/refresh token";
    lost.notification = notification(orgId, "evt-lost", NotificationType::ConnectionLost, kNowMs);
    ASSERT_TRUE(store.applyTransition(lost));
    // Stale: the transition is refused and so is its notification.
    ConnectionTransition stale = lost;
    stale.notification->id = "evt-stale";
    EXPECT_FALSE(store.applyTransition(stale));

    ConnectionTransition recovered = transitionTo(connectedConnection(orgId, "refresh-2"), 2);
    recovered.users = UserEffect::LiftLossSuspensions;
    recovered.notification = notification(orgId, "evt-recovered", NotificationType::ConnectionRecovered, kNowMs + 5);
    ASSERT_TRUE(store.applyTransition(recovered));

    const auto listed = store.listNotifications(orgId, kNewestFirst, 10);
    ASSERT_EQ(idsOf(listed), (std::vector<std::string>{"evt-recovered", "evt-lost"}));
    const Notification& loss = listed[1];
    EXPECT_EQ(loss.orgId, orgId);
    EXPECT_EQ(loss.type, NotificationType::ConnectionLost);
    EXPECT_EQ(loss.environment, Environment::Sandbox);
    EXPECT_EQ(loss.reason, "invalid_grant");
    EXPECT_EQ(loss.occurredAt, kNow);
    EXPECT_EQ(loss.users, 2);  // the two active users; the inactive one was not suspended
    EXPECT_EQ(loss.createdAtMs, kNowMs);
    EXPECT_EQ(loss.state, DeliveryState::Pending);
    EXPECT_EQ(loss.attempts, 0);
    EXPECT_EQ(loss.nextAttemptAtMs, kNowMs);  // due at once
    EXPECT_FALSE(loss.lastAttemptAtMs);
    EXPECT_FALSE(loss.deliveredAtMs);
    EXPECT_FALSE(loss.lastError);
    EXPECT_EQ(listed[0].type, NotificationType::ConnectionRecovered);
    EXPECT_EQ(listed[0].users, 2);
    EXPECT_FALSE(listed[0].reason);
    EXPECT_LT(loss.sequence, listed[0].sequence);
    // Paging by sequence, newest first.
    EXPECT_EQ(idsOf(store.listNotifications(orgId, kNewestFirst, 1)), (std::vector<std::string>{"evt-recovered"}));
    EXPECT_EQ(idsOf(store.listNotifications(orgId, listed[0].sequence, 10)), (std::vector<std::string>{"evt-lost"}));
    EXPECT_TRUE(store.listNotifications(this->newOrganization("Other"), kNewestFirst, 10).empty());
}

TYPED_TEST(StoreConformanceTest, DueNotificationsAreTheHeadOfEachOrganizationsQueueAndWaitInOrder) {
    Store& store = this->store();
    const std::int64_t first = this->newOrganization("First");
    const std::int64_t second = this->newOrganization("Second");
    enqueue(store, first, "a1", kNowMs);
    enqueue(store, second, "b1", kNowMs);
    enqueue(store, first, "a2", kNowMs);
    ASSERT_TRUE(store.tryAcquireDeliveryLease("deliverer", 60'000ms));

    auto due = store.listDueNotifications(kNowMs, 10);
    ASSERT_EQ(idsOf(due), (std::vector<std::string>{"a1", "b1"}));
    EXPECT_TRUE(store.listDueNotifications(kNowMs - 1, 10).empty());
    EXPECT_EQ(idsOf(store.listDueNotifications(kNowMs, 1)), (std::vector<std::string>{"a1"}));

    // a1 fails: a2 waits behind it even though it is due.
    ASSERT_TRUE(store.recordDeliveryAttempt(
        deliveryAttempt(due[0], "deliverer", DeliveryState::Pending, kNowMs + 10, kNowMs + 1000, "HTTP 500")));
    EXPECT_EQ(idsOf(store.listDueNotifications(kNowMs + 999, 10)), (std::vector<std::string>{"b1"}));
    due = store.listDueNotifications(kNowMs + 1000, 10);
    ASSERT_EQ(idsOf(due), (std::vector<std::string>{"a1", "b1"}));
    EXPECT_EQ(due[0].attempts, 1);
    EXPECT_EQ(due[0].lastAttemptAtMs, kNowMs + 10);
    EXPECT_EQ(due[0].lastError, "HTTP 500");

    ASSERT_TRUE(store.recordDeliveryAttempt(
        deliveryAttempt(due[0], "deliverer", DeliveryState::Delivered, kNowMs + 1000, kNowMs + 1000, std::nullopt)));
    EXPECT_EQ(idsOf(store.listDueNotifications(kNowMs + 1000, 10)), (std::vector<std::string>{"b1", "a2"}));
    const Notification delivered = store.listNotifications(first, kNewestFirst, 10).back();
    EXPECT_EQ(delivered.state, DeliveryState::Delivered);
    EXPECT_EQ(delivered.attempts, 2);
    EXPECT_EQ(delivered.deliveredAtMs, kNowMs + 1000);
    EXPECT_EQ(delivered.lastError, "HTTP 500");  // the failure before the delivery stays visible
    // A recorded outcome is final: another attempt on it writes nothing.
    EXPECT_FALSE(store.recordDeliveryAttempt(
        deliveryAttempt(delivered, "deliverer", DeliveryState::Pending, kNowMs + 2000, kNowMs + 3000, "timeout")));

    // Abandoned: out of the queue, and the next one of the organization comes forward.
    const Notification a2 = store.listDueNotifications(kNowMs + 1000, 10).back();
    ASSERT_TRUE(store.recordDeliveryAttempt(
        deliveryAttempt(a2, "deliverer", DeliveryState::Abandoned, kNowMs + 1100, kNowMs + 1100, "timeout")));
    EXPECT_EQ(store.listNotifications(first, kNewestFirst, 1).front().state, DeliveryState::Abandoned);
    EXPECT_EQ(idsOf(store.listDueNotifications(kNowMs + 5000, 10)), (std::vector<std::string>{"b1"}));
}

TYPED_TEST(StoreConformanceTest, DeliveryAttemptIsRecordedOnlyByTheHolderOfTheDeliveryLease) {
    Store& store = this->store();
    const std::int64_t orgId = this->newOrganization();
    enqueue(store, orgId, "n1", kNowMs);
    const Notification pending = store.listDueNotifications(kNowMs, 10).at(0);
    // No lease at all yet.
    EXPECT_FALSE(store.recordDeliveryAttempt(
        deliveryAttempt(pending, "a", DeliveryState::Delivered, kNowMs, kNowMs, std::nullopt)));

    ASSERT_TRUE(store.tryAcquireDeliveryLease("a", 60'000ms));
    EXPECT_TRUE(store.tryAcquireDeliveryLease("a", 60'000ms));  // its holder takes it again
    EXPECT_FALSE(store.tryAcquireDeliveryLease("b", 60'000ms));
    EXPECT_FALSE(store.recordDeliveryAttempt(
        deliveryAttempt(pending, "b", DeliveryState::Delivered, kNowMs, kNowMs, std::nullopt)));
    EXPECT_FALSE(store.renewDeliveryLease("b", 60'000ms));
    store.releaseDeliveryLease("b");  // not b's: nothing happens
    EXPECT_FALSE(store.tryAcquireDeliveryLease("b", 60'000ms));

    store.releaseDeliveryLease("a");
    EXPECT_FALSE(store.renewDeliveryLease("a", 60'000ms));
    ASSERT_TRUE(store.tryAcquireDeliveryLease("b", 60'000ms));
    EXPECT_FALSE(store.recordDeliveryAttempt(
        deliveryAttempt(pending, "a", DeliveryState::Delivered, kNowMs, kNowMs, std::nullopt)));
    EXPECT_TRUE(store.recordDeliveryAttempt(
        deliveryAttempt(pending, "b", DeliveryState::Delivered, kNowMs, kNowMs, std::nullopt)));
    EXPECT_EQ(store.listNotifications(orgId, kNewestFirst, 1).front().state, DeliveryState::Delivered);
}

TYPED_TEST(StoreConformanceTest, DeliveryLeaseExpiresByTheDatabaseClockAndRenewsOnlyWhileHeld) {
    Store& store = this->store();
    const auto taken = Clock::now();
    ASSERT_TRUE(store.tryAcquireDeliveryLease("a", 300ms));
    EXPECT_TRUE(store.renewDeliveryLease("a", 300ms));
    EXPECT_TRUE(store.renewDeliveryLease("a", 300ms));  // twice within a millisecond: still held
    while (!store.tryAcquireDeliveryLease("b", 300ms)) {
        ASSERT_LT(Clock::now() - taken, 5s) << "the delivery lease never expired";
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_GE(Clock::now() - taken, 280ms);
    EXPECT_FALSE(store.renewDeliveryLease("a", 300ms));
    EXPECT_FALSE(store.tryAcquireDeliveryLease("a", 300ms));
}

TYPED_TEST(StoreConformanceTest, OneDelivererAmongManyContenders) {
    const auto leaders = testsupport::runTogether(kThreads, [&](int index) {
        return this->store().tryAcquireDeliveryLease("contender-" + std::to_string(index), 60'000ms) ? 1 : 0;
    });
    EXPECT_EQ(std::count(leaders.begin(), leaders.end(), 1), 1);
}

TYPED_TEST(StoreConformanceTest, SchemaUpgradeFromVersionThreeKeepsTheDataAndAddsTheOutbox) {
    const std::string dsn = this->backend_.freshDsn();
    auto store = openStore(dsn, kPoolSize);
    const auto& versions = migrations::schemaVersions(store->sqlDialect());
    ASSERT_GE(versions.size(), 4u);
    ASSERT_EQ(store->applySchema({versions[0], versions[1], versions[2]}), 3);
    const std::int64_t orgId = store->createOrganization("Before version 4", kFirstNewLegacyId).legacyId;
    ASSERT_TRUE(store->applyTransition(transitionTo(connectedConnection(orgId, "refresh-1"), 0)));

    EXPECT_EQ(migrations::upgradeSchema(*store), versions.back().version);
    ASSERT_TRUE(store->findOrganization(orgId));
    EXPECT_EQ(store->loadConnection(orgId).status, ConnectionStatus::Connected);
    ConnectionTransition lost = transitionTo(disconnectedConnection(orgId, "refresh-1"), 1);
    lost.notification = notification(orgId, "after-upgrade", NotificationType::ConnectionLost, kNowMs);
    ASSERT_TRUE(store->applyTransition(lost));
    EXPECT_EQ(idsOf(store->listNotifications(orgId, kNewestFirst, 10)), (std::vector<std::string>{"after-upgrade"}));
    EXPECT_TRUE(store->tryAcquireDeliveryLease("after-upgrade", 1000ms));
}

// --- rekey ---

std::vector<std::tuple<std::int64_t, std::string, std::string, std::string, std::string, UnixSeconds>> fieldsOfAll(
    const std::vector<SealedRow>& rows) {
    std::vector<std::tuple<std::int64_t, std::string, std::string, std::string, std::string, UnixSeconds>> fields;
    for (const auto& row : rows) {
        fields.emplace_back(row.id.orgId, row.id.stateHash, row.token.keyId, row.token.ciphertext, row.instanceUrl,
                            row.expiresAt);
    }
    return fields;
}

TYPED_TEST(StoreConformanceTest, SealedValuesUnderOtherKeysAreListedInIdOrderAfterTheGivenRowAndCounted) {
    Store& store = this->store();
    const std::int64_t first = this->newOrganization("First");
    const std::int64_t second = this->newOrganization("Second");
    const std::int64_t current = this->newOrganization("Already current");
    const std::int64_t tokenless = this->newOrganization("No token");
    ASSERT_EQ(this->connect(first, "refresh-first"), 1);
    ASSERT_EQ(this->connect(second, "refresh-second"), 1);
    Connection underActive = connectedConnection(current, "refresh-current");
    underActive.refreshToken = SealedToken{"key-new", "refresh-current"};
    ASSERT_TRUE(store.applyTransition(transitionTo(underActive, 0)));
    Connection withoutToken = connectedConnection(tokenless, "unused");
    withoutToken.status = ConnectionStatus::NotConnected;
    withoutToken.refreshToken.reset();
    ASSERT_TRUE(store.applyTransition(transitionTo(withoutToken, 0)));
    this->storeAccessToken(second, "refresh-second", "access-second");
    store.insertOAuthAttempt(oauthAttempt(first, "state-b", kNow + 600));
    store.insertOAuthAttempt(oauthAttempt(first, "state-a", kNow + 600));
    OAuthAttempt currentAttempt = oauthAttempt(first, "state-c", kNow + 600);
    currentAttempt.codeVerifier.keyId = "key-new";
    store.insertOAuthAttempt(currentAttempt);

    using Row = std::tuple<std::int64_t, std::string, std::string, std::string, std::string, UnixSeconds>;
    EXPECT_EQ(fieldsOfAll(store.listSealedNotUnder(SealedColumn::RefreshToken, "key-new", {}, 10)),
              (std::vector<Row>{{first, "", "key-1", "refresh-first", "", 0},
                                {second, "", "key-1", "refresh-second", "", 0}}));
    EXPECT_EQ(fieldsOfAll(store.listSealedNotUnder(SealedColumn::RefreshToken, "key-new", {}, 1)),
              (std::vector<Row>{{first, "", "key-1", "refresh-first", "", 0}}));
    EXPECT_EQ(fieldsOfAll(store.listSealedNotUnder(SealedColumn::RefreshToken, "key-new", SealedRowId{first, {}}, 10)),
              (std::vector<Row>{{second, "", "key-1", "refresh-second", "", 0}}));
    EXPECT_TRUE(store.listSealedNotUnder(SealedColumn::RefreshToken, "key-new", SealedRowId{second, {}}, 10).empty());
    EXPECT_EQ(store.countSealedNotUnder(SealedColumn::RefreshToken, "key-new"), 2);
    EXPECT_EQ(store.countSealedNotUnder(SealedColumn::RefreshToken, "key-1"), 1);

    // An access token comes with what it is sealed for besides its organization.
    const StoredAccessToken stored = accessToken("access-second");
    EXPECT_EQ(fieldsOfAll(store.listSealedNotUnder(SealedColumn::AccessToken, "key-new", {}, 10)),
              (std::vector<Row>{{second, "", "key-1", "access-second", stored.instanceUrl, stored.expiresAt}}));
    EXPECT_EQ(store.countSealedNotUnder(SealedColumn::AccessToken, "key-new"), 1);
    EXPECT_EQ(store.countSealedNotUnder(SealedColumn::AccessToken, "key-1"), 0);

    // Code verifiers are walked by state hash.
    EXPECT_EQ(fieldsOfAll(store.listSealedNotUnder(SealedColumn::CodeVerifier, "key-new", {}, 10)),
              (std::vector<Row>{{0, "state-a", "key-2", "verifier-ciphertext", "", 0},
                                {0, "state-b", "key-2", "verifier-ciphertext", "", 0}}));
    EXPECT_EQ(
        fieldsOfAll(store.listSealedNotUnder(SealedColumn::CodeVerifier, "key-new", SealedRowId{0, "state-a"}, 10)),
        (std::vector<Row>{{0, "state-b", "key-2", "verifier-ciphertext", "", 0}}));
    EXPECT_EQ(store.countSealedNotUnder(SealedColumn::CodeVerifier, "key-new"), 2);
    EXPECT_EQ(store.countSealedNotUnder(SealedColumn::CodeVerifier, "key-2"), 1);
}

TYPED_TEST(StoreConformanceTest, ResealRewritesOnlyRowsThatStillHoldTheCiphertextThatWasRead) {
    Store& store = this->store();
    const std::int64_t kept = this->newOrganization("Resealed");
    const std::int64_t changed = this->newOrganization("Changed meanwhile");
    ASSERT_EQ(this->connect(kept, "refresh-kept"), 1);
    ASSERT_EQ(this->connect(changed, "refresh-changed"), 1);
    // A new login wrote another token after the rekey read the row.
    ASSERT_EQ(this->connect(changed, "refresh-new-login"), 2);
    const Connection changedBefore = store.loadConnection(changed);

    EXPECT_EQ(
        store.resealIfUnchanged(SealedColumn::RefreshToken,
                                {Reseal{SealedRowId{kept, {}}, "refresh-kept", {"key-new", "resealed-kept"}},
                                 Reseal{SealedRowId{changed, {}}, "refresh-changed", {"key-new", "resealed-changed"}}}),
        1);
    Connection expected = connectedConnection(kept, "resealed-kept");
    expected.refreshToken = SealedToken{"key-new", "resealed-kept"};
    expected.version = 2;  // an admin's change read before the reseal is tried again on the new row
    EXPECT_EQ(fieldsOf(store.loadConnection(kept)), fieldsOf(expected));
    EXPECT_EQ(fieldsOf(store.loadConnection(changed)), fieldsOf(changedBefore));
    EXPECT_FALSE(store.applyTransition(transitionTo(connectedConnection(kept, "stale-admin-write"), 1)));
    EXPECT_EQ(store.resealIfUnchanged(SealedColumn::RefreshToken, {}), 0);

    // A refresh that presented the old ciphertext commits nothing: it reads the row again and finds the new one.
    ASSERT_TRUE(store.tryAcquireRefreshLease(kept, "late", 0ms));
    EXPECT_FALSE(store.commitRefresh(refreshOutcome(kept, "late", "refresh-kept", "access-late")));
    EXPECT_FALSE(store.loadAccessToken(kept));

    // Access tokens and code verifiers alike.
    this->storeAccessToken(changed, "refresh-new-login", "access-1");
    EXPECT_EQ(store.resealIfUnchanged(SealedColumn::AccessToken,
                                      {Reseal{SealedRowId{changed, {}}, "access-stale", {"key-new", "resealed-x"}}}),
              0);
    EXPECT_EQ(fieldsOf(*store.loadAccessToken(changed)), fieldsOf(accessToken("access-1")));
    EXPECT_EQ(store.resealIfUnchanged(SealedColumn::AccessToken,
                                      {Reseal{SealedRowId{changed, {}}, "access-1", {"key-new", "resealed-access"}}}),
              1);
    StoredAccessToken resealedAccess = accessToken("resealed-access");
    resealedAccess.token.keyId = "key-new";
    EXPECT_EQ(fieldsOf(*store.loadAccessToken(changed)), fieldsOf(resealedAccess));

    store.insertOAuthAttempt(oauthAttempt(kept, "state-1", kNow + 600));
    EXPECT_EQ(store.resealIfUnchanged(SealedColumn::CodeVerifier,
                                      {Reseal{SealedRowId{0, "state-1"}, "other", {"key-new", "resealed-verifier"}}}),
              0);
    EXPECT_EQ(store.resealIfUnchanged(
                  SealedColumn::CodeVerifier,
                  {Reseal{SealedRowId{0, "state-1"}, "verifier-ciphertext", {"key-new", "resealed-verifier"}}}),
              1);
    OAuthAttempt resealedAttempt = oauthAttempt(kept, "state-1", kNow + 600);
    resealedAttempt.codeVerifier = SealedToken{"key-new", "resealed-verifier"};
    ASSERT_TRUE(store.findOAuthAttempt("state-1"));
    EXPECT_EQ(fieldsOf(*store.findOAuthAttempt("state-1")), fieldsOf(resealedAttempt));
    EXPECT_EQ(store.countSealedNotUnder(SealedColumn::CodeVerifier, "key-new"), 0);
}

TYPED_TEST(StoreConformanceTest, ResealLeavesARefreshTokenAloneWhileARefreshOfItsOrganizationHoldsTheLease) {
    Store& store = this->store();
    const std::int64_t refreshing = this->newOrganization("Refreshing");
    const std::int64_t idle = this->newOrganization("Idle");
    ASSERT_EQ(this->connect(refreshing, "refresh-1"), 1);
    ASSERT_EQ(this->connect(idle, "refresh-2"), 1);
    ASSERT_TRUE(store.tryAcquireRefreshLease(refreshing, "refresher", 60'000ms));
    // An expired lease (a refresh long over) holds nothing back.
    ASSERT_TRUE(store.tryAcquireRefreshLease(idle, "earlier", 0ms));
    const std::vector<Reseal> batch{
        Reseal{SealedRowId{refreshing, {}}, "refresh-1", {"key-new", "resealed-1"}},
        Reseal{SealedRowId{idle, {}}, "refresh-2", {"key-new", "resealed-2"}},
    };

    EXPECT_EQ(store.resealIfUnchanged(SealedColumn::RefreshToken, batch), 1);
    EXPECT_EQ(fieldsOf(store.loadConnection(refreshing).refreshToken), fieldsOf(std::optional(sealed("refresh-1"))));
    EXPECT_EQ(fieldsOf(store.loadConnection(idle).refreshToken),
              fieldsOf(std::optional(SealedToken{"key-new", "resealed-2"})));

    // The refresh commits on the ciphertext it presented, then lets go of the lease; the next pass takes the row.
    ASSERT_TRUE(store.commitRefresh(refreshOutcome(refreshing, "refresher", "refresh-1", "access-1")));
    store.releaseRefreshLease(refreshing, "refresher");
    EXPECT_EQ(store.resealIfUnchanged(SealedColumn::RefreshToken, {batch.front()}), 1);
    EXPECT_EQ(fieldsOf(store.loadConnection(refreshing).refreshToken),
              fieldsOf(std::optional(SealedToken{"key-new", "resealed-1"})));
    EXPECT_EQ(store.countSealedNotUnder(SealedColumn::RefreshToken, "key-new"), 0);
}

// --- the migrator ---

TYPED_TEST(StoreConformanceTest, MigrationWritesTheOrganizationItsUsersAndItsConnection) {
    Store& store = this->store();
    MigratedOrganization legacy = migratedOrganization(1042, "fingerprint-1");
    User suspended = migratedUser(11, 1042, "Suspended@Example.com");
    suspended.displayName = kAwkwardText;
    suspended.salesforceUserId = "005000000000011AAA";
    suspended.syncSuspended = true;
    suspended.suspendReason = "Salesforce connection lost";
    suspended.suspendedByLoss = true;
    legacy.users = {migratedUser(10, 1042, "plain@example.com"), suspended};
    Connection lost = disconnectedConnection(1042, "refresh-reencrypted");
    lost.version = 9;  // the store counts versions
    legacy.connection = lost;
    legacy.events = {event(1042, EventType::Migrated, kNow)};

    EXPECT_EQ(store.writeMigratedOrganization(legacy), MigrationWrite::Written);

    ASSERT_TRUE(store.findOrganization(1042));
    EXPECT_EQ(fieldsOf(*store.findOrganization(1042)), fieldsOf(legacy.organization));
    EXPECT_EQ(fieldsOfAll(store.listUsersAfter(1042, 0, 10)), fieldsOfAll(legacy.users));
    Connection expected = lost;
    expected.version = 1;
    EXPECT_EQ(fieldsOf(store.loadConnection(1042)), fieldsOf(expected));
    EXPECT_EQ(fieldsOfAll(store.listEvents(1042, kNewestFirst, 10)), fieldsOfAll(legacy.events));
}

// A batch's first write asks only about organizations the store holds; a connection row of an organization it does
// not hold (no path writes one today) makes the key refuse, and the batch is written again asking about all: the
// server's connection stays, the rest of the organization lands.
TYPED_TEST(StoreConformanceTest, MigrationKeepsAConnectionRowWhoseOrganizationRowIsMissing) {
    Store& store = this->store();
    ASSERT_FALSE(store.findOrganization(1042));
    ASSERT_TRUE(store.applyTransition(transitionTo(connectedConnection(1042, "refresh-server"), 0)));
    const Connection server = store.loadConnection(1042);
    MigratedOrganization legacy = migratedOrganization(1042, "fingerprint-1");
    legacy.users = {migratedUser(10, 1042, "plain@example.com")};
    legacy.connection = connectedConnection(1042, "refresh-legacy");
    legacy.events = {event(1042, EventType::Migrated, kNow)};
    MigratedOrganization other = migratedOrganization(1043, "fingerprint-2");
    other.users = {migratedUser(11, 1043, "other@example.com")};
    other.connection = connectedConnection(1043, "refresh-other");

    EXPECT_EQ(store.writeMigratedOrganizations({legacy, other}),
              (std::vector<MigrationWrite>{MigrationWrite::Written, MigrationWrite::Written}));
    EXPECT_TRUE(store.findOrganization(1042));
    EXPECT_EQ(fieldsOfAll(store.listUsersAfter(1042, 0, 10)), fieldsOfAll(legacy.users));
    EXPECT_EQ(fieldsOf(store.loadConnection(1042)), fieldsOf(server));
    EXPECT_EQ(fieldsOf(store.loadConnection(1043).refreshToken), fieldsOf(sealed("refresh-other")));
}

TYPED_TEST(StoreConformanceTest, MigrationRerunWithTheSameFingerprintIsAlreadyCurrent) {
    Store& store = this->store();
    MigratedOrganization legacy = migratedOrganization(1042, "fingerprint-1");
    legacy.users = {migratedUser(10, 1042, "plain@example.com")};
    legacy.connection = connectedConnection(1042, "refresh-1");
    legacy.events = {event(1042, EventType::Migrated, kNow)};
    ASSERT_EQ(store.writeMigratedOrganization(legacy), MigrationWrite::Written);

    MigratedOrganization rerun = legacy;
    rerun.organization.name = "Renamed";
    rerun.users = {migratedUser(12, 1042, "other@example.com")};
    rerun.connection = connectedConnection(1042, "refresh-2");
    EXPECT_EQ(store.writeMigratedOrganization(rerun), MigrationWrite::AlreadyCurrent);

    EXPECT_EQ(store.findOrganization(1042)->name, legacy.organization.name);
    EXPECT_EQ(fieldsOfAll(store.listUsersAfter(1042, 0, 10)), fieldsOfAll(legacy.users));
    EXPECT_EQ(fieldsOf(store.loadConnection(1042).refreshToken), fieldsOf(sealed("refresh-1")));
    EXPECT_EQ(store.listEvents(1042, kNewestFirst, 10).size(), 1u);
}

TYPED_TEST(StoreConformanceTest, MigrationRerunReplacesMigratedUsersAndKeepsPanelUsers) {
    Store& store = this->store();
    MigratedOrganization legacy = migratedOrganization(1042, "fingerprint-1");
    legacy.users = {migratedUser(10, 1042, "stays@example.com"), migratedUser(11, 1042, "leaves@example.com")};
    legacy.connection = connectedConnection(1042, "refresh-1");
    ASSERT_EQ(store.writeMigratedOrganization(legacy), MigrationWrite::Written);
    const User panelUser = store.createUser(newUser(1042, "panel@example.com"), kFirstNewLegacyId);

    MigratedOrganization rerun = migratedOrganization(1042, "fingerprint-2");
    rerun.organization.name = "Renamed in legacy";
    User renamed = migratedUser(10, 1042, "stays@example.com");
    renamed.displayName = "Now with a name";
    rerun.users = {renamed, migratedUser(12, 1042, "arrives@example.com")};
    rerun.connection = disconnectedConnection(1042, "refresh-2");
    EXPECT_EQ(store.writeMigratedOrganization(rerun), MigrationWrite::Written);

    EXPECT_EQ(store.findOrganization(1042)->name, "Renamed in legacy");
    std::vector<User> expectedUsers = rerun.users;
    expectedUsers.push_back(panelUser);
    EXPECT_EQ(fieldsOfAll(store.listUsersAfter(1042, 0, 10)), fieldsOfAll(expectedUsers));
    EXPECT_FALSE(store.findUser(11));
    // The connection only the migrator ever wrote follows the legacy row, and its version moves on.
    Connection expected = disconnectedConnection(1042, "refresh-2");
    expected.version = 2;
    EXPECT_EQ(fieldsOf(store.loadConnection(1042)), fieldsOf(expected));
}

TYPED_TEST(StoreConformanceTest, MigrationConflictsWithAnOrganizationIdCreatedThroughThePanel) {
    Store& store = this->store();
    const Organization panelOrganization = store.createOrganization("Panel", kFirstNewLegacyId);
    MigratedOrganization legacy = migratedOrganization(panelOrganization.legacyId, "fingerprint-1");
    legacy.users = {migratedUser(10, panelOrganization.legacyId, "legacy@example.com")};
    legacy.connection = connectedConnection(panelOrganization.legacyId, "refresh-1");

    EXPECT_EQ(store.writeMigratedOrganization(legacy), MigrationWrite::Conflict);

    EXPECT_EQ(fieldsOf(*store.findOrganization(panelOrganization.legacyId)), fieldsOf(panelOrganization));
    EXPECT_EQ(store.countUsers(panelOrganization.legacyId), 0);
    EXPECT_EQ(store.loadConnection(panelOrganization.legacyId).version, 0);
}

TYPED_TEST(StoreConformanceTest, MigrationConflictsWithAUserIdHeldByAnotherUser) {
    Store& store = this->store();
    const std::int64_t panelOrgId = this->newOrganization();
    const User panelUser = store.createUser(newUser(panelOrgId, "panel@example.com"), kFirstNewLegacyId);
    MigratedOrganization otherLegacy = migratedOrganization(1043, "fingerprint-1");
    otherLegacy.users = {migratedUser(20, 1043, "elsewhere@example.com")};
    ASSERT_EQ(store.writeMigratedOrganization(otherLegacy), MigrationWrite::Written);

    // Held by a user created through the panel.
    MigratedOrganization legacy = migratedOrganization(1042, "fingerprint-1");
    legacy.users = {migratedUser(10, 1042, "fine@example.com"), migratedUser(panelUser.legacyId, 1042, "x@e.com")};
    legacy.connection = connectedConnection(1042, "refresh-1");
    EXPECT_EQ(store.writeMigratedOrganization(legacy), MigrationWrite::Conflict);
    // Held by a user the migrator wrote into another organization.
    legacy.users = {migratedUser(10, 1042, "fine@example.com"), migratedUser(20, 1042, "x@e.com")};
    EXPECT_EQ(store.writeMigratedOrganization(legacy), MigrationWrite::Conflict);

    EXPECT_FALSE(store.findOrganization(1042));
    EXPECT_FALSE(store.findUser(10));
    EXPECT_EQ(fieldsOf(*store.findUser(panelUser.legacyId)), fieldsOf(panelUser));
    EXPECT_EQ(store.findUser(20)->orgId, 1043);
    EXPECT_EQ(store.loadConnection(1042).version, 0);
}

TYPED_TEST(StoreConformanceTest, BatchWithAHeldUserIdWritesEveryOtherOrganizationAndReportsThatOneAConflict) {
    Store& store = this->store();
    const std::int64_t panelOrgId = this->newOrganization();
    const User panelUser = store.createUser(newUser(panelOrgId, "panel@example.com"), kFirstNewLegacyId);
    std::vector<MigratedOrganization> batch;
    for (const std::int64_t orgId : {1042, 1043, 1044}) {
        batch.push_back(migratedOrganization(orgId, "fingerprint-1"));
        batch.back().users = {migratedUser(orgId * 10, orgId, "first@example.com")};
    }
    batch[1].users.push_back(migratedUser(panelUser.legacyId, 1043, "held@example.com"));

    EXPECT_EQ(
        store.writeMigratedOrganizations(batch),
        (std::vector<MigrationWrite>{MigrationWrite::Written, MigrationWrite::Conflict, MigrationWrite::Written}));

    EXPECT_TRUE(store.findOrganization(1042));
    EXPECT_FALSE(store.findOrganization(1043));
    EXPECT_TRUE(store.findOrganization(1044));
    EXPECT_EQ(store.findUser(10420)->orgId, 1042);
    EXPECT_FALSE(store.findUser(10430));
    EXPECT_EQ(store.findUser(10440)->orgId, 1044);
    EXPECT_EQ(fieldsOf(*store.findUser(panelUser.legacyId)), fieldsOf(panelUser));
    // A second run: the written ones are current, the held one is still a conflict.
    EXPECT_EQ(store.writeMigratedOrganizations(batch),
              (std::vector<MigrationWrite>{MigrationWrite::AlreadyCurrent, MigrationWrite::Conflict,
                                           MigrationWrite::AlreadyCurrent}));
}

// A user that moved between two organizations of one batch in the legacy database: the batch's outcome does not
// depend on whether the store had to be asked (another organization's conflict makes it ask).
TYPED_TEST(StoreConformanceTest, AUserMovingBetweenOrganizationsOfOneBatchMovesWhateverElseTheBatchHolds) {
    Store& store = this->store();
    const std::int64_t panelOrgId = this->newOrganization();
    const User panelUser = store.createUser(newUser(panelOrgId, "panel@example.com"), kFirstNewLegacyId);
    std::vector<MigratedOrganization> before;
    for (const std::int64_t orgId : {1042, 1043}) before.push_back(migratedOrganization(orgId, "fingerprint-1"));
    before[0].users = {migratedUser(7, 1042, "mover@example.com"), migratedUser(8, 1042, "stays@example.com")};
    ASSERT_EQ(store.writeMigratedOrganizations(before),
              (std::vector<MigrationWrite>{MigrationWrite::Written, MigrationWrite::Written}));

    for (const bool withConflictElsewhere : {false, true}) {
        std::vector<MigratedOrganization> after;
        for (const std::int64_t orgId : {1042, 1043}) {
            after.push_back(migratedOrganization(orgId, withConflictElsewhere ? "fingerprint-3" : "fingerprint-2"));
        }
        after[0].users = {migratedUser(8, 1042, "stays@example.com")};
        after[1].users = {migratedUser(7, 1043, "mover@example.com")};
        std::vector<MigrationWrite> expected{MigrationWrite::Written, MigrationWrite::Written};
        if (withConflictElsewhere) {
            after.push_back(migratedOrganization(1044, "fingerprint-1"));
            after.back().users = {migratedUser(panelUser.legacyId, 1044, "held@example.com")};
            expected.push_back(MigrationWrite::Conflict);
        }
        EXPECT_EQ(store.writeMigratedOrganizations(after), expected) << withConflictElsewhere;
        ASSERT_TRUE(store.findUser(7)) << withConflictElsewhere;
        EXPECT_EQ(store.findUser(7)->orgId, 1043) << withConflictElsewhere;
        EXPECT_EQ(store.findUser(8)->orgId, 1042) << withConflictElsewhere;
        // Back where it was, for the next round.
        ASSERT_EQ(store.writeMigratedOrganizations(before),
                  (std::vector<MigrationWrite>{MigrationWrite::Written, MigrationWrite::Written}));
    }
    EXPECT_FALSE(store.findOrganization(1044));
}

// MariaDB compares strings ignoring trailing spaces; the migrator's email keys do not. Such twins pass the
// migrator's questions and are refused by the key: the organization fails alone instead of the store looking down.
TYPED_TEST(StoreConformanceTest, AnEmailOnlyTheDatabaseCallsEqualFailsItsOrganizationNotTheStore) {
    Store& store = this->store();
    MigratedOrganization legacy = migratedOrganization(1042, "fingerprint-1");
    legacy.users = {migratedUser(10, 1042, "ann@example.com"), migratedUser(11, 1042, "ann@example.com ")};
    if (store.sqlDialect() == "mysql") {
        for (const auto& write : std::vector<std::function<void()>>{[&] { store.writeMigratedOrganizations({legacy}); },
                                                                    [&] { store.writeMigratedOrganization(legacy); }}) {
            try {
                write();
                ADD_FAILURE() << "MariaDB took two emails it compares as equal";
            } catch (const Error& error) {
                EXPECT_EQ(error.code(), ErrorCode::Internal) << error.what();
            }
        }
        EXPECT_FALSE(store.findOrganization(1042));
    } else {
        EXPECT_EQ(store.writeMigratedOrganizations({legacy}), std::vector<MigrationWrite>{MigrationWrite::Written});
        EXPECT_EQ(store.countUsers(1042), 2);
    }
}

TYPED_TEST(StoreConformanceTest, AnEmailThePanelGaveAUserOfTheOrganizationIsAConflictForARerun) {
    Store& store = this->store();
    MigratedOrganization legacy = migratedOrganization(1042, "fingerprint-1");
    legacy.users = {migratedUser(10, 1042, "ann@example.com")};
    ASSERT_EQ(store.writeMigratedOrganization(legacy), MigrationWrite::Written);
    const User panelUser = store.createUser(newUser(1042, "bob@example.com"), kFirstNewLegacyId);

    // The legacy database gained a user with the email (in other letter case) the panel has given since.
    legacy.legacyFingerprint = "fingerprint-2";
    legacy.users.push_back(migratedUser(11, 1042, "Bob@Example.com"));
    EXPECT_EQ(store.writeMigratedOrganizations({legacy}), std::vector<MigrationWrite>{MigrationWrite::Conflict});
    EXPECT_EQ(store.writeMigratedOrganization(legacy), MigrationWrite::Conflict);

    EXPECT_FALSE(store.findUser(11));
    EXPECT_EQ(fieldsOf(*store.findUser(panelUser.legacyId)), fieldsOf(panelUser));
    EXPECT_EQ(store.findUser(10)->email, "ann@example.com");
    EXPECT_EQ(store.countUsers(1042), 2);
}

TYPED_TEST(StoreConformanceTest, ConnectionChangedByTheServerIsNotOverwrittenByARerun) {
    Store& store = this->store();
    MigratedOrganization legacy = migratedOrganization(1042, "fingerprint-1");
    legacy.users = {migratedUser(10, 1042, "user@example.com")};
    legacy.connection = connectedConnection(1042, "refresh-legacy");
    ASSERT_EQ(store.writeMigratedOrganization(legacy), MigrationWrite::Written);
    Connection adminChanged = disconnectedConnection(1042, "refresh-legacy");
    adminChanged.changedByAdminAt = kNow + 30;
    ASSERT_TRUE(store.applyTransition(transitionTo(adminChanged, 1)));
    const Connection afterAdmin = store.loadConnection(1042);

    MigratedOrganization rerun = legacy;
    rerun.legacyFingerprint = "fingerprint-2";
    rerun.organization.name = "Renamed in legacy";
    rerun.connection = connectedConnection(1042, "refresh-legacy-rotated");
    EXPECT_EQ(store.writeMigratedOrganization(rerun), MigrationWrite::Written);

    EXPECT_EQ(store.findOrganization(1042)->name, "Renamed in legacy");
    EXPECT_EQ(fieldsOf(store.loadConnection(1042)), fieldsOf(afterAdmin));
}

// --- an unreachable database ---

TYPED_TEST(StoreConformanceTest, UnreachableDatabaseIsStoreUnavailableAndTheSameStoreRecovers) {
    Store& store = this->store();
    const Organization before = store.createOrganization("Before the outage", kFirstNewLegacyId);
    auto expectUnavailableSoon = [](auto&& call) {
        const auto started = Clock::now();
        EXPECT_EQ(errorCodeOf(call), ErrorCode::StoreUnavailable);
        EXPECT_LT(Clock::now() - started, kUnavailableWithin);
    };
    {
        const typename TestFixture::Outage outage(this->backend_, this->dsn_);
        expectUnavailableSoon([&] { store.createOrganization("During the outage", kFirstNewLegacyId); });
        expectUnavailableSoon(
            [&] { store.applyTransition(transitionTo(connectedConnection(before.legacyId, "refresh-1"), 0)); });
        if constexpr (TypeParam::kOutageStopsReads) {
            expectUnavailableSoon([&] { store.findOrganization(before.legacyId); });
            const auto started = Clock::now();
            EXPECT_FALSE(store.ping());
            EXPECT_LT(Clock::now() - started, kUnavailableWithin);
        } else {
            // SQLite in WAL mode: readers go on while another process holds the write lock.
            EXPECT_TRUE(store.findOrganization(before.legacyId));
            EXPECT_TRUE(store.ping());
        }
    }
    EXPECT_TRUE(store.ping());
    ASSERT_TRUE(store.findOrganization(before.legacyId));
    EXPECT_EQ(fieldsOf(*store.findOrganization(before.legacyId)), fieldsOf(before));
    EXPECT_EQ(store.createOrganization("After the outage", kFirstNewLegacyId).legacyId, before.legacyId + 1);
    EXPECT_TRUE(store.applyTransition(transitionTo(connectedConnection(before.legacyId, "refresh-1"), 0)));
}

}  // namespace
}  // namespace bridge::storetest
