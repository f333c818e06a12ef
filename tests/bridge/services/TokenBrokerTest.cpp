// The token broker against a real SQLite store and the Salesforce stand-in over HTTP.

#include <Poco/Data/Session.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <latch>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bridge/services/Connectivity.h"
#include "bridge/services/InvalidationFollower.h"
#include "bridge/services/KeepAlive.h"
#include "bridge/services/TokenBroker.h"
#include "bridge/store/SqliteStore.h"
#include "migrations/SchemaCatalog.h"
#include "testsupport/StandinProcess.h"

namespace bridge {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testsupport::StandinFault;
using testsupport::StandinProcess;
using testsupport::StandinSettingsChange;

constexpr std::int64_t kFirstNewLegacyId = 2000000000;
constexpr int kPoolSize = 8;
constexpr auto kSalesforceTimeout = 500ms;
constexpr auto kLeaseMargin = 300ms;
// Scheduling noise allowed on top of a bound the broker promises.
constexpr auto kSlack = 200ms;
const std::string kCipherKeys = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const std::string kLostReason = "invalid_grant: expired access/refresh token";

UnixSeconds nowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string queryParameter(const std::string& url, const std::string& name) {
    for (const auto& [key, value] : Poco::URI(url).getQueryParameters()) {
        if (key == name) return value;
    }
    return {};
}

// The Error a call throws; a test failure when it throws none.
Error errorOf(const std::function<void()>& call) {
    try {
        call();
    } catch (const Error& error) {
        return error;
    }
    ADD_FAILURE() << "expected an Error";
    return Error(ErrorCode::Internal, "no error was thrown");
}

bool waitUntil(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (!condition()) {
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

// A 15-character Salesforce id: the key prefix, then a zero-padded number.
std::string salesforceId(const std::string& keyPrefix, int number) {
    const std::string digits = std::to_string(number);
    return keyPrefix + std::string(15 - keyPrefix.size() - digits.size(), '0') + digits;
}

std::int64_t millisecondsSince(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Counts the store calls the broker makes: a warm request must make none.
class CountingStore : public SqliteStore {
public:
    using SqliteStore::SqliteStore;

    std::optional<User> findUser(std::int64_t legacyId) override {
        ++calls;
        return SqliteStore::findUser(legacyId);
    }
    std::optional<User> findUserByPublicId(const std::string& publicId) override {
        ++calls;
        return SqliteStore::findUserByPublicId(publicId);
    }
    Connection loadConnection(std::int64_t orgId) override {
        ++calls;
        return SqliteStore::loadConnection(orgId);
    }
    std::optional<StoredAccessToken> loadAccessToken(std::int64_t orgId) override {
        ++calls;
        return SqliteStore::loadAccessToken(orgId);
    }
    bool tryAcquireRefreshLease(std::int64_t orgId, const std::string& owner,
                                std::chrono::milliseconds duration) override {
        ++calls;
        return SqliteStore::tryAcquireRefreshLease(orgId, owner, duration);
    }
    bool commitRefresh(const RefreshOutcome& outcome) override {
        ++calls;
        return SqliteStore::commitRefresh(outcome);
    }
    std::int64_t latestAccessTokenInvalidation() override {
        ++invalidationReads;
        return SqliteStore::latestAccessTokenInvalidation();
    }
    std::vector<AccessTokenInvalidation> listAccessTokenInvalidationsAfter(std::int64_t generation) override {
        ++invalidationReads;
        return SqliteStore::listAccessTokenInvalidationsAfter(generation);
    }

    std::atomic<int> calls{0};
    std::atomic<int> invalidationReads{0};  // the one read a warm request shares with the others under way
};

class TokenBrokerTest : public ::testing::Test {
protected:
    TokenBrokerTest() : directory_(makeDirectory()), store_(databasePath(), kPoolSize) {
        migrations::upgradeSchema(store_);
    }

    ~TokenBrokerTest() override {
        std::error_code ignoredBecauseALeftoverTestDirectoryHarmsNothing;
        std::filesystem::remove_all(directory_, ignoredBecauseALeftoverTestDirectoryHarmsNothing);
    }

    static std::filesystem::path makeDirectory() {
        std::string pattern = (std::filesystem::temp_directory_path() / "token-broker-test-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern + " failed");
        return pattern;
    }

    std::string databasePath() const { return (directory_ / "bridge.db").string(); }

    SalesforceSettings salesforceSettings() const {
        SalesforceSettings settings;
        settings.clientId = standin_.clientId();
        settings.clientSecret = standin_.clientSecret();
        settings.productionLoginUrl = standin_.baseUrl();
        settings.sandboxLoginUrl = standin_.baseUrl();
        settings.callbackUrl = "http://localhost:8080/oauth/salesforce/callback";
        settings.timeout = kSalesforceTimeout;
        return settings;
    }

    static BrokerSettings brokerSettings(std::string instanceId = "instance-a") {
        BrokerSettings settings;
        settings.accessTokenTtl = 900s;
        settings.salesforceTimeout = kSalesforceTimeout;
        settings.snapshotMaxAge = 1s;
        settings.leaseMargin = kLeaseMargin;
        settings.instanceId = std::move(instanceId);
        return settings;
    }

    std::unique_ptr<TokenBroker> makeBroker(Store& store, BrokerSettings settings) {
        return std::make_unique<TokenBroker>(store, salesforce_, cipher_, metrics_, std::move(settings));
    }

    TokenBroker& broker() { return *broker_; }

    std::int64_t createOrganization(const std::string& name) {
        return store_.createOrganization(name, kFirstNewLegacyId).legacyId;
    }

    User createUser(std::int64_t orgId, const std::string& email, bool active = true) {
        NewUser user;
        user.orgId = orgId;
        user.email = email;
        user.active = active;
        return store_.createUser(user, kFirstNewLegacyId);
    }

    // Plays an admin's login with a service account of the organization's own and stores the connection as the
    // OAuth callback does. Returns the service account's 18-character user id.
    std::string connect(std::int64_t orgId, UnixSeconds lastRefreshAt = nowSeconds()) {
        ++serviceAccounts_;
        testsupport::StandinIdentity identity;
        identity.userId = salesforceId("005", serviceAccounts_);
        identity.organizationId = salesforceId("00D", serviceAccounts_);
        identity.username = "svc-" + std::to_string(serviceAccounts_) + "@example.com";
        const Poco::JSON::Object::Ptr account = standin_.setIdentity(identity);

        const SalesforceClient::Pkce pkce = SalesforceClient::makePkce();
        const std::string callback = standin_.followAuthorization(
            salesforce_.authorizationUrl(Environment::Production, "state-" + std::to_string(orgId), pkce.challenge));
        const TokenResult login =
            salesforce_.exchangeCode(Environment::Production, queryParameter(callback, "code"), pkce.verifier);
        if (!login.succeeded()) throw std::runtime_error("login failed: " + login.failure().reason());
        if (!login.value().refreshToken) throw std::runtime_error("login granted no refresh token");

        ConnectionTransition transition;
        Connection& connection = transition.next;
        connection = store_.loadConnection(orgId);
        connection.serviceAccountLoginEnabled = true;
        connection.status = ConnectionStatus::Connected;
        connection.environment = Environment::Production;
        connection.serviceAccountUserId = account->getValue<std::string>("userId");
        connection.serviceAccountUsername = identity.username;
        connection.salesforceOrgId = account->getValue<std::string>("organizationId");
        connection.instanceUrl = login.value().instanceUrl;
        connection.refreshToken =
            cipher_.seal(*login.value().refreshToken, Connectivity::refreshTokenAssociatedData(orgId));
        connection.statusChangedAt = connection.connectedAt = nowSeconds();
        connection.lastRefreshAt = lastRefreshAt;
        transition.forgetAccessToken = true;
        if (!store_.applyTransition(transition)) throw std::runtime_error("storing the connection failed");
        salesforceOrganizations_[orgId] = *connection.salesforceOrgId;
        return *connection.serviceAccountUserId;
    }

    // An admin's change to the connection, written behind the broker's back.
    void changeConnection(std::int64_t orgId, const std::function<void(Connection&)>& change) {
        ConnectionTransition transition;
        transition.next = store_.loadConnection(orgId);
        change(transition.next);
        transition.forgetAccessToken = true;
        ASSERT_TRUE(store_.applyTransition(transition));
    }

    std::vector<Event> eventsOf(std::int64_t orgId, EventType type) {
        std::vector<Event> matching;
        for (Event& event : store_.listEvents(orgId, std::numeric_limits<std::int64_t>::max(), 500)) {
            if (event.type == type) matching.push_back(std::move(event));
        }
        return matching;
    }

    std::int64_t refreshCalls() { return standin_.counter("refreshCalls"); }

    std::int64_t refreshCallsOf(std::int64_t orgId) {
        const Poco::JSON::Object::Ptr byOrganization = standin_.counters()->getObject("refreshCallsByOrganization");
        const std::string& salesforceOrgId = salesforceOrganizations_.at(orgId);
        return byOrganization->has(salesforceOrgId) ? byOrganization->getValue<Poco::Int64>(salesforceOrgId) : 0;
    }

    // The instance's refresh of the user's organization reaches Salesforce; then another connection takes SQLite's
    // writer lock and holds it until the refresh has answered (StoreUnavailable, once the lease has ended).
    void refreshWhileAnotherConnectionHoldsTheWriterLock(TokenBroker& instance, std::int64_t userId,
                                                         std::chrono::milliseconds leaseDuration) {
        const std::int64_t refreshesBefore = refreshCalls();
        const auto started = Clock::now();
        auto request =
            std::async(std::launch::async, [&] { return errorOf([&] { instance.accessToken(userId, "sync"); }); });
        // The refresh is at Salesforce: the lease is taken, the answer not yet in.
        ASSERT_TRUE(waitUntil([&] { return refreshCalls() == refreshesBefore + 1; }, 2s));
        Poco::Data::Session writer("SQLite", databasePath());
        writer << "BEGIN IMMEDIATE", Poco::Data::Keywords::now;
        ASSERT_EQ(request.wait_for(15s), std::future_status::ready);
        const Error refused = request.get();
        writer << "ROLLBACK", Poco::Data::Keywords::now;
        EXPECT_EQ(refused.code(), ErrorCode::StoreUnavailable);
        EXPECT_GE(Clock::now() - started, leaseDuration) << "gave up before the lease ended";
        EXPECT_LT(Clock::now() - started, 8s);
    }

    bool metricsShow(const std::string& series) { return metrics_.render().find(series + "\n") != std::string::npos; }

    // The value of one series of the brokers' metrics; 0 while it has none.
    double metricValue(const std::string& series) {
        const std::string rendered = metrics_.render();
        const auto at = rendered.find(series + " ");
        return at == std::string::npos ? 0 : std::stod(rendered.substr(at + series.size() + 1));
    }
    double grantReads() { return metricValue(R"(bridge_broker_invalidation_reads_total{by="grant"})"); }

    // Starts following the invalidations for `broker`, as `bridge serve` does, and returns once its grants need no
    // read: the follower has recorded twice in a row (a record is trusted when the one before was live), which its
    // third round follows.
    std::unique_ptr<InvalidationFollower> follow(TokenBroker& broker) {
        const double before = metricValue(R"(bridge_broker_invalidation_reads_total{by="follower"})");
        auto follower = std::make_unique<InvalidationFollower>(broker);
        const auto giveUpAt = Clock::now() + 5s;
        while (metricValue(R"(bridge_broker_invalidation_reads_total{by="follower"})") < before + 3) {
            if (Clock::now() > giveUpAt) {
                ADD_FAILURE() << "the follower never read the invalidations three times";
                break;
            }
            std::this_thread::sleep_for(5ms);
        }
        return follower;
    }

    // Two brokers on one store file, each through its own store object, as two instances of a fleet; their copies
    // last 30 s, so that only obeying the invalidations can make them refresh.
    struct TwoInstances {
        std::unique_ptr<SqliteStore> otherStore;
        std::unique_ptr<TokenBroker> a;
        std::unique_ptr<TokenBroker> b;
        std::unique_ptr<InvalidationFollower> followerA;  // set when followed
        std::unique_ptr<InvalidationFollower> followerB;
    };
    TwoInstances twoInstances(bool followed, std::chrono::milliseconds invalidationLease = 3s) {
        TwoInstances instances;
        instances.otherStore = std::make_unique<SqliteStore>(databasePath(), kPoolSize);
        BrokerSettings settings = brokerSettings("instance-a");
        settings.snapshotMaxAge = 30s;
        settings.invalidationLease = invalidationLease;
        instances.a = makeBroker(store_, settings);
        settings.instanceId = "instance-b";
        instances.b = makeBroker(*instances.otherStore, settings);
        if (followed) {
            instances.followerA = follow(*instances.a);
            instances.followerB = follow(*instances.b);
        }
        return instances;
    }

    std::filesystem::path directory_;
    SqliteStore store_;
    StandinProcess standin_;
    SalesforceClient salesforce_{salesforceSettings()};
    TokenCipher cipher_ = TokenCipher::fromSpec(kCipherKeys);
    Metrics metrics_;
    std::unique_ptr<TokenBroker> broker_ = makeBroker(store_, brokerSettings());
    int serviceAccounts_ = 0;
    std::map<std::int64_t, std::string> salesforceOrganizations_;
};

TEST_F(TokenBrokerTest, AddinIsRefusedBeforeAnythingElseAndUnknownClientsAreInvalid) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);

    EXPECT_EQ(errorOf([&] { broker().accessToken(std::int64_t{424242}, "addin"); }).code(),
              ErrorCode::AddinNotSupported);
    EXPECT_EQ(errorOf([&] { broker().accessToken(ann.publicId(), "addin"); }).code(), ErrorCode::AddinNotSupported);
    const Error invalid = errorOf([&] { broker().accessToken(ann.legacyId, "mobile"); });
    EXPECT_EQ(invalid.code(), ErrorCode::ValidationFailed);
    EXPECT_EQ(invalid.field(), "client");
    EXPECT_EQ(refreshCalls(), 0);
    EXPECT_TRUE(metricsShow("bridge_broker_requests_total{outcome=\"addin_not_supported\"} 2"));
}

TEST_F(TokenBrokerTest, UnknownUsersAreNotFoundByEitherId) {
    const std::int64_t orgId = createOrganization("Acme");
    createUser(orgId, "ann@acme.example");
    connect(orgId);

    EXPECT_EQ(errorOf([&] { broker().accessToken(std::int64_t{424242}, "sync"); }).code(), ErrorCode::UserNotFound);
    EXPECT_EQ(errorOf([&] { broker().accessToken(std::string("no-such-user"), "sync"); }).code(),
              ErrorCode::UserNotFound);
    EXPECT_EQ(errorOf([&] { broker().invalidate(std::int64_t{424242}); }).code(), ErrorCode::UserNotFound);
    EXPECT_EQ(refreshCalls(), 0);
}

TEST_F(TokenBrokerTest, InactiveUserIsRefused) {
    const std::int64_t orgId = createOrganization("Acme");
    const User former = createUser(orgId, "former@acme.example", false);
    connect(orgId);

    EXPECT_EQ(errorOf([&] { broker().accessToken(former.publicId(), "sync"); }).code(), ErrorCode::UserInactive);
    EXPECT_EQ(refreshCalls(), 0);
}

TEST_F(TokenBrokerTest, NotConnectedWithoutAServiceAccountOrWithTheToggleOff) {
    const std::int64_t neverConnected = createOrganization("Never");
    const User nina = createUser(neverConnected, "nina@never.example");
    EXPECT_EQ(errorOf([&] { broker().accessToken(nina.legacyId, "sync"); }).code(), ErrorCode::NotConnected);

    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    broker().accessToken(ann.legacyId, "sync");
    changeConnection(orgId, [](Connection& connection) { connection.serviceAccountLoginEnabled = false; });
    broker().connectionChanged(orgId);  // the panel on this instance says so: no second of staleness
    EXPECT_EQ(errorOf([&] { broker().accessToken(ann.legacyId, "sync"); }).code(), ErrorCode::NotConnected);
    EXPECT_EQ(refreshCalls(), 1);
}

TEST_F(TokenBrokerTest, LostConnectionIsSuspendedWithTheReasonWithoutAskingSalesforce) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    changeConnection(orgId, [](Connection& connection) {
        connection.status = ConnectionStatus::Disconnected;
        connection.lastError = kLostReason;
    });

    const Error suspended = errorOf([&] { broker().accessToken(ann.publicId(), "sync"); });
    EXPECT_EQ(suspended.code(), ErrorCode::SyncSuspended);
    EXPECT_EQ(std::string(suspended.what()), kLostReason);
    EXPECT_EQ(refreshCalls(), 0);
}

TEST_F(TokenBrokerTest, OneSharedAccessTokenPerOrganizationIsReusedWithoutSalesforce) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    const User bob = createUser(orgId, "bob@acme.example");
    const std::string serviceAccount = connect(orgId);

    const UnixSeconds before = nowSeconds();
    const AccessGrant first = broker().accessToken(ann.legacyId, "sync");
    EXPECT_FALSE(first.accessToken.empty());
    EXPECT_EQ(first.instanceUrl.rfind("http", 0), 0u) << first.instanceUrl;
    EXPECT_EQ(first.serviceAccountUserId, serviceAccount);
    EXPECT_GE(first.expiresAt, before + 900);
    EXPECT_LE(first.expiresAt, nowSeconds() + 900);
    EXPECT_EQ(refreshCalls(), 1);

    for (int request = 0; request < 100; ++request) {
        const AccessGrant again = request % 2 == 0 ? broker().accessToken(bob.publicId(), "sync")
                                                   : broker().accessToken(ann.legacyId, "sync");
        ASSERT_EQ(again.accessToken, first.accessToken);
        ASSERT_EQ(again.expiresAt, first.expiresAt);
    }
    // Every instance finds it in the store, sealed for this organization's row.
    const std::optional<StoredAccessToken> stored = store_.loadAccessToken(orgId);
    ASSERT_TRUE(stored.has_value());
    // ... and bound to the instance URL and expiry stored beside it.
    EXPECT_EQ(cipher_.open(stored->token, "org:" + std::to_string(orgId) + ":access:v2\n" + stored->instanceUrl + "\n" +
                                              std::to_string(stored->expiresAt)),
              first.accessToken);
    EXPECT_EQ(stored->token.ciphertext.find(first.accessToken), std::string::npos);

    std::this_thread::sleep_for(1100ms);  // the copies in memory are stale now: read again, not refreshed
    EXPECT_EQ(broker().accessToken(bob.legacyId, "sync").accessToken, first.accessToken);
    EXPECT_EQ(refreshCalls(), 1);

    EXPECT_TRUE(metricsShow("bridge_broker_requests_total{outcome=\"granted\"} 102"));
    EXPECT_TRUE(metricsShow("bridge_broker_cache_total{result=\"hit\"} 101"));
    EXPECT_TRUE(metricsShow("bridge_broker_cache_total{result=\"miss\"} 1"));
    EXPECT_TRUE(metricsShow("bridge_salesforce_refresh_total{result=\"success\"} 1"));
    EXPECT_TRUE(metricsShow("bridge_salesforce_refresh_seconds_count{} 1"));
}

// Followed, as `bridge serve` runs it, a warm request reads nothing: what it must know of the invalidations comes
// through the follower's background reads (and invalidate() waits for the follower).
TEST_F(TokenBrokerTest, WarmRequestsOfAFollowedBrokerTouchNeitherStoreNorSalesforce) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    CountingStore countingStore(databasePath(), kPoolSize);
    BrokerSettings settings = brokerSettings();
    settings.snapshotMaxAge = 30s;  // so that no copy goes stale while this test measures
    const auto warmBroker = makeBroker(countingStore, settings);
    const auto follower = follow(*warmBroker);
    warmBroker->accessToken(ann.legacyId, "sync");
    warmBroker->accessToken(ann.legacyId, "sync");  // the refresh dropped the copy of the organization: read again
    countingStore.calls = 0;
    const double grantReadsBefore = grantReads();

    constexpr int kThreads = 2;
    constexpr int kRequestsEach = 50000;
    std::atomic<int> mismatches{0};
    const auto started = Clock::now();
    std::vector<std::thread> threads;
    for (int thread = 0; thread < kThreads; ++thread) {
        threads.emplace_back([&] {
            const UserRef user = ann.legacyId;
            for (int request = 0; request < kRequestsEach; ++request) {
                if (warmBroker->accessToken(user, "sync").accessToken.empty()) ++mismatches;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    const double perSecond = kThreads * kRequestsEach / seconds;
    std::printf("warm broker requests: %.0f per second on %d threads\n", perSecond, kThreads);

    EXPECT_EQ(mismatches, 0);
    EXPECT_EQ(countingStore.calls, 0);
    EXPECT_EQ(grantReads(), grantReadsBefore);
    EXPECT_GT(countingStore.invalidationReads, 0) << "the follower read them meanwhile";
    EXPECT_EQ(refreshCalls(), 1);
    // The whole server's target through HTTP: the broker's part must never be what limits it.
    EXPECT_GT(perSecond, 50000.0);
}

// Not followed (starting, the store too slow to follow, the follower stopped), each request waits for a read of the
// invalidations that it shares with every request that arrived while the previous one was under way.
TEST_F(TokenBrokerTest, WarmRequestsOfAnUnfollowedBrokerShareTheirInvalidationReads) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    CountingStore countingStore(databasePath(), kPoolSize);
    BrokerSettings settings = brokerSettings();
    settings.snapshotMaxAge = 30s;
    const auto warmBroker = makeBroker(countingStore, settings);
    warmBroker->accessToken(ann.legacyId, "sync");
    warmBroker->accessToken(ann.legacyId, "sync");
    countingStore.calls = 0;
    countingStore.invalidationReads = 0;
    const double grantReadsBefore = grantReads();

    constexpr int kThreads = 2;
    constexpr int kRequestsEach = 5000;
    std::vector<std::thread> threads;
    for (int thread = 0; thread < kThreads; ++thread) {
        threads.emplace_back([&] {
            for (int request = 0; request < kRequestsEach; ++request) warmBroker->accessToken(ann.legacyId, "sync");
        });
    }
    for (auto& thread : threads) thread.join();
    std::printf("invalidation reads: %d for %d requests\n", countingStore.invalidationReads.load(),
                kThreads * kRequestsEach);

    EXPECT_EQ(countingStore.calls, 0);
    EXPECT_GT(countingStore.invalidationReads, 0);
    EXPECT_LE(countingStore.invalidationReads, kThreads * kRequestsEach);
    EXPECT_EQ(grantReads() - grantReadsBefore, countingStore.invalidationReads);
    EXPECT_EQ(refreshCalls(), 1);
}

TEST_F(TokenBrokerTest, InvalidatedTokenIsForgottenAndTheNextRequestRefreshes) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    const AccessGrant first = broker().accessToken(ann.legacyId, "sync");

    broker().invalidate(ann.publicId());
    EXPECT_FALSE(store_.loadAccessToken(orgId).has_value());
    const AccessGrant second = broker().accessToken(ann.legacyId, "sync");
    EXPECT_NE(second.accessToken, first.accessToken);
    EXPECT_EQ(broker().accessToken(ann.publicId(), "sync").accessToken, second.accessToken);
    EXPECT_EQ(refreshCalls(), 2);
}

// The cross-instance invalidation tests, run both ways: followed (as `bridge serve` runs, grants read nothing) and
// not (each grant waits for a shared read of the invalidations).
class TokenBrokerInvalidationTest : public TokenBrokerTest, public ::testing::WithParamInterface<bool> {};

// The contract's "the next request refreshes", across instances: B's copy is not waited out (it would last 30 s).
TEST_P(TokenBrokerInvalidationTest, InvalidationThroughOneInstanceIsObeyedByTheNextGrantOfTheOther) {
    const bool followed = GetParam();
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    const User bob = createUser(orgId, "bob@acme.example");
    connect(orgId);
    const TwoInstances instances = twoInstances(followed);
    TokenBroker* const instanceA = instances.a.get();
    TokenBroker* const instanceB = instances.b.get();

    std::string current = instanceA->accessToken(ann.legacyId, "sync").accessToken;
    ASSERT_EQ(instanceB->accessToken(bob.legacyId, "sync").accessToken, current);
    ASSERT_EQ(refreshCalls(), 1);
    for (int round = 0; round < 4; ++round) {
        TokenBroker& invalidating = round % 2 == 0 ? *instanceA : *instanceB;
        TokenBroker& other = round % 2 == 0 ? *instanceB : *instanceA;
        invalidating.invalidate(ann.publicId());
        const std::string next = other.accessToken(bob.legacyId, "sync").accessToken;
        EXPECT_NE(next, current) << "round " << round;
        EXPECT_EQ(refreshCalls(), round + 2) << "round " << round;
        EXPECT_EQ(invalidating.accessToken(ann.legacyId, "sync").accessToken, next) << "round " << round;
        EXPECT_EQ(other.accessToken(ann.publicId(), "sync").accessToken, next) << "round " << round;
        current = next;
    }
    EXPECT_EQ(refreshCalls(), 5);
    if (followed) {
        EXPECT_EQ(grantReads(), 0) << "the grants read the invalidations: following did not work";
    }
}

// Under load on B, while A invalidates now and then: no grant that started after an invalidation returned hands
// out a token retired by it, however the grants share their reads and flights.
TEST_P(TokenBrokerInvalidationTest, NoGrantStartedAfterAnInvalidationReturnedHandsOutTheRetiredToken) {
    const bool followed = GetParam();
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    const TwoInstances instances = twoInstances(followed);
    TokenBroker* const instanceA = instances.a.get();
    TokenBroker* const instanceB = instances.b.get();
    standin_.settings(StandinSettingsChange{.refreshDelayMs = 50});  // refreshes overlap the grants that wait

    struct Grant {
        Clock::time_point startedAt;
        std::string token;
    };
    constexpr int kThreads = 2;
    constexpr int kInvalidations = 6;
    std::atomic<bool> stopping{false};
    std::vector<std::vector<Grant>> grants(kThreads);
    std::vector<std::thread> threads;
    for (int thread = 0; thread < kThreads; ++thread) {
        threads.emplace_back([&, thread] {
            while (!stopping) {
                const Clock::time_point startedAt = Clock::now();
                try {
                    grants[thread].push_back({startedAt, instanceB->accessToken(ann.legacyId, "sync").accessToken});
                } catch (const Error& error) {
                    ADD_FAILURE() << errorCodeName(error.code()) << ": " << error.what();
                    return;
                }
            }
        });
    }
    std::map<std::string, Clock::time_point> retiredAt;
    for (int round = 0; round < kInvalidations; ++round) {
        std::this_thread::sleep_for(150ms);
        const std::string current = instanceA->accessToken(ann.legacyId, "sync").accessToken;
        instanceA->invalidate(ann.legacyId);
        retiredAt.emplace(current, Clock::now());
    }
    std::this_thread::sleep_for(150ms);
    stopping = true;
    for (auto& thread : threads) thread.join();

    int servedBeforeRetirement = 0;
    int servedAfterRetirement = 0;
    int grantCount = 0;
    for (const auto& ofThread : grants) {
        for (const Grant& grant : ofThread) {
            ++grantCount;
            const auto retired = retiredAt.find(grant.token);
            if (retired == retiredAt.end()) continue;
            if (grant.startedAt > retired->second) {
                ++servedAfterRetirement;
            } else {
                ++servedBeforeRetirement;
            }
        }
    }
    EXPECT_EQ(servedAfterRetirement, 0);
    EXPECT_GT(servedBeforeRetirement, kInvalidations) << "B served the tokens it later had to stop serving";
    EXPECT_EQ(static_cast<int>(retiredAt.size()), kInvalidations) << "each invalidation retired a token of its own";
    EXPECT_EQ(refreshCalls(), kInvalidations + 1);
    std::printf("%d grants on B around %d invalidations on A\n", grantCount, kInvalidations);
    if (followed) {
        EXPECT_EQ(grantReads(), 0) << "the grants read the invalidations: following did not work";
    }
}

INSTANTIATE_TEST_SUITE_P(FollowedOrNot, TokenBrokerInvalidationTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                             return info.param ? "Followed" : "Unfollowed";
                         });

// When a grant may trust what the instance knows: after two records in a row, the second landing while the first
// was live, and until a quarter before the last one's lease ends. A record that lands after its predecessor lapsed is
// not trusted (an invalidation may have passed the instance by meanwhile), the next one is.
TEST_F(TokenBrokerTest, GrantsTrustWhatTheInstanceFollowedOnlyWhileItsRecordsFormAnUnbrokenChain) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    BrokerSettings settings = brokerSettings("instance-b");
    settings.snapshotMaxAge = 30s;
    settings.invalidationLease = 400ms;
    const auto broker = makeBroker(store_, settings);
    broker->accessToken(ann.legacyId, "sync");
    // Whether a grant read the invalidations itself.
    const auto grantReads = [&] {
        const double before = this->grantReads();
        broker->accessToken(ann.legacyId, "sync");
        return this->grantReads() > before;
    };

    EXPECT_TRUE(grantReads()) << "not followed yet";
    broker->followInvalidations();
    EXPECT_TRUE(grantReads()) << "one record: nothing known of what came before it";
    broker->followInvalidations();
    EXPECT_FALSE(grantReads()) << "two records in a row";
    std::this_thread::sleep_for(350ms);  // past three quarters of the lease
    EXPECT_TRUE(grantReads()) << "the last record is about to lapse";
    std::this_thread::sleep_for(100ms);  // and has lapsed in the store
    broker->followInvalidations();
    EXPECT_TRUE(grantReads()) << "a record that landed after the one before lapsed";
    broker->followInvalidations();
    EXPECT_FALSE(grantReads()) << "chained again";
    broker->stopFollowingInvalidations();
    EXPECT_TRUE(grantReads()) << "withdrawn";
}

// An instance that stopped following is not waited for, and its grants read the invalidations again.
TEST_F(TokenBrokerTest, AnInstanceThatStoppedFollowingIsNotWaitedForAndReadsForEachGrant) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    const TwoInstances instances = twoInstances(true, 20s);  // waiting for B until its record lapsed would show
    TokenBroker* const instanceA = instances.a.get();
    TokenBroker* const instanceB = instances.b.get();
    const std::string first = instanceB->accessToken(ann.legacyId, "sync").accessToken;
    ASSERT_EQ(grantReads(), 0);

    instances.followerB->stop();
    const auto started = Clock::now();
    instanceA->invalidate(ann.legacyId);
    EXPECT_LT(Clock::now() - started, 2s) << "A waited for an instance that had withdrawn";
    EXPECT_NE(instanceB->accessToken(ann.legacyId, "sync").accessToken, first);
    EXPECT_GT(grantReads(), 0);
    EXPECT_EQ(refreshCalls(), 2);
}

// Whoever can write the store must not be able to send the organization's access token to a host of their own.
TEST_F(TokenBrokerTest, AccessTokenRowPointedAtAnotherHostIsRefusedRefreshedAndRecorded) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    const AccessGrant first = broker().accessToken(ann.legacyId, "sync");
    const std::string attackerHost = "https://attacker.example";
    {
        Poco::Data::Session raw("SQLite", databasePath());
        raw << "UPDATE access_tokens SET instance_url = ? WHERE org_id = ?", Poco::Data::Keywords::bind(attackerHost),
            Poco::Data::Keywords::bind(Poco::Int64{orgId}), Poco::Data::Keywords::now;
    }
    std::this_thread::sleep_for(1100ms);  // past the copies in memory: the next request reads the altered row

    const AccessGrant second = broker().accessToken(ann.legacyId, "sync");
    EXPECT_EQ(second.instanceUrl, first.instanceUrl);
    EXPECT_NE(second.accessToken, first.accessToken);
    EXPECT_EQ(refreshCalls(), 2);
    const std::vector<Event> refused = eventsOf(orgId, EventType::AccessTokenRefused);
    ASSERT_EQ(refused.size(), 1u);
    EXPECT_NE(refused.front().detail.value_or("").find("instance URL"), std::string::npos);
    EXPECT_EQ(refused.front().detail.value_or("").find(first.accessToken), std::string::npos);
    EXPECT_EQ(store_.loadAccessToken(orgId)->instanceUrl, first.instanceUrl);

    // Sealed by the version before the binding: refreshed too, but it is no alarm.
    {
        const SealedToken unbound = cipher_.seal(second.accessToken, "org:" + std::to_string(orgId) + ":access");
        Poco::Data::Session raw("SQLite", databasePath());
        raw << "UPDATE access_tokens SET token_ct = ?, token_key = ? WHERE org_id = ?",
            Poco::Data::Keywords::bind(unbound.ciphertext), Poco::Data::Keywords::bind(unbound.keyId),
            Poco::Data::Keywords::bind(Poco::Int64{orgId}), Poco::Data::Keywords::now;
    }
    std::this_thread::sleep_for(1100ms);
    EXPECT_NE(broker().accessToken(ann.legacyId, "sync").accessToken, second.accessToken);
    EXPECT_EQ(refreshCalls(), 3);
    EXPECT_EQ(eventsOf(orgId, EventType::AccessTokenRefused).size(), 1u);
}

TEST_F(TokenBrokerTest, AccessTokenIsReusedOnlyForItsConfiguredLifetime) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    BrokerSettings settings = brokerSettings();
    settings.accessTokenTtl = 1s;
    const auto shortLived = makeBroker(store_, settings);

    const AccessGrant first = shortLived->accessToken(ann.legacyId, "sync");
    EXPECT_LE(first.expiresAt, nowSeconds() + 1);
    std::this_thread::sleep_for(2100ms);
    const AccessGrant second = shortLived->accessToken(ann.legacyId, "sync");
    EXPECT_NE(second.accessToken, first.accessToken);
    EXPECT_EQ(refreshCalls(), 2);
}

TEST_F(TokenBrokerTest, ConcurrentColdRequestsShareOneRefresh) {
    const std::int64_t orgId = createOrganization("Acme");
    std::vector<User> users;
    for (int user = 0; user < 4; ++user)
        users.push_back(createUser(orgId, "u" + std::to_string(user) + "@acme.example"));
    connect(orgId);
    standin_.settings(StandinSettingsChange{.refreshDelayMs = 200});  // every request arrives while it runs

    constexpr int kRequests = 200;
    std::vector<std::string> tokens(kRequests);
    std::atomic<int> failures{0};
    std::latch start(kRequests);
    std::vector<std::thread> threads;
    for (int request = 0; request < kRequests; ++request) {
        threads.emplace_back([&, request] {
            start.arrive_and_wait();
            try {
                tokens[request] = broker().accessToken(users[request % users.size()].legacyId, "sync").accessToken;
            } catch (const Error& error) {
                ++failures;
                ADD_FAILURE() << errorCodeName(error.code()) << ": " << error.what();
            }
        });
    }
    for (auto& thread : threads) thread.join();

    EXPECT_EQ(failures, 0);
    EXPECT_FALSE(tokens.front().empty());
    for (const std::string& token : tokens) EXPECT_EQ(token, tokens.front());
    EXPECT_EQ(refreshCalls(), 1);
    EXPECT_EQ(standin_.counter("maxConcurrentRefreshes"), 1);
}

TEST_F(TokenBrokerTest, TwoInstancesOnOneStoreShareOneRefresh) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    SqliteStore otherStore(databasePath(), kPoolSize);
    const auto instanceA = makeBroker(store_, brokerSettings("instance-a"));
    const auto instanceB = makeBroker(otherStore, brokerSettings("instance-b"));
    standin_.settings(StandinSettingsChange{.refreshDelayMs = 200});

    constexpr int kRequests = 40;
    std::vector<std::string> tokens(kRequests);
    std::latch start(kRequests);
    std::vector<std::thread> threads;
    for (int request = 0; request < kRequests; ++request) {
        threads.emplace_back([&, request] {
            TokenBroker& instance = request % 2 == 0 ? *instanceA : *instanceB;
            start.arrive_and_wait();
            try {
                tokens[request] = instance.accessToken(ann.legacyId, "sync").accessToken;
            } catch (const Error& error) {
                ADD_FAILURE() << errorCodeName(error.code()) << ": " << error.what();
            }
        });
    }
    for (auto& thread : threads) thread.join();

    EXPECT_FALSE(tokens.front().empty());
    for (const std::string& token : tokens) EXPECT_EQ(token, tokens.front());
    EXPECT_EQ(refreshCalls(), 1);
}

TEST_F(TokenBrokerTest, PermanentRefusalDisconnectsSuspendsActiveUsersAndRecordsOneLoss) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    const User bob = createUser(orgId, "bob@acme.example");
    const User former = createUser(orgId, "former@acme.example", false);
    connect(orgId);
    ASSERT_EQ(standin_.expireRefreshTokens(), 1);

    constexpr int kRequests = 20;
    std::atomic<int> suspended{0};
    std::latch start(kRequests);
    std::vector<std::thread> threads;
    for (int request = 0; request < kRequests; ++request) {
        threads.emplace_back([&, request] {
            start.arrive_and_wait();
            const Error error = errorOf([&] { broker().accessToken((request % 2 ? ann : bob).legacyId, "sync"); });
            if (error.code() == ErrorCode::SyncSuspended && error.what() == kLostReason) ++suspended;
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(suspended, kRequests);
    EXPECT_EQ(refreshCalls(), 1);

    const Connection connection = store_.loadConnection(orgId);
    EXPECT_EQ(connection.status, ConnectionStatus::Disconnected);
    EXPECT_EQ(connection.lastError, kLostReason);
    EXPECT_FALSE(store_.loadAccessToken(orgId).has_value());
    for (const User& user : {ann, bob}) {
        const User now = *store_.findUser(user.legacyId);
        EXPECT_TRUE(now.syncSuspended) << now.email;
        EXPECT_TRUE(now.suspendedByLoss) << now.email;
        EXPECT_EQ(now.suspendReason, kLostReason);
    }
    EXPECT_FALSE(store_.findUser(former.legacyId)->syncSuspended);
    const std::vector<Event> losses = eventsOf(orgId, EventType::Lost);
    ASSERT_EQ(losses.size(), 1u);
    EXPECT_EQ(losses.front().detail, kLostReason);

    // Later requests, here and on a fresh instance, answer from the recorded loss without asking Salesforce.
    EXPECT_EQ(errorOf([&] { broker().accessToken(ann.publicId(), "sync"); }).code(), ErrorCode::SyncSuspended);
    const auto freshInstance = makeBroker(store_, brokerSettings("instance-b"));
    const Error later = errorOf([&] { freshInstance->accessToken(bob.legacyId, "sync"); });
    EXPECT_EQ(later.code(), ErrorCode::SyncSuspended);
    EXPECT_EQ(std::string(later.what()), kLostReason);
    EXPECT_EQ(refreshCalls(), 1);
    EXPECT_TRUE(metricsShow("bridge_salesforce_refresh_total{result=\"refused\"} 1"));
}

TEST_F(TokenBrokerTest, ServerErrorAnswersUnavailableAndChangesNothing) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    standin_.injectFault("status500", 1, "refresh_token");

    EXPECT_EQ(errorOf([&] { broker().accessToken(ann.legacyId, "sync"); }).code(), ErrorCode::SalesforceUnavailable);
    const Connection connection = store_.loadConnection(orgId);
    EXPECT_EQ(connection.status, ConnectionStatus::Connected);
    EXPECT_FALSE(connection.lastError.has_value());
    EXPECT_FALSE(store_.findUser(ann.legacyId)->syncSuspended);
    EXPECT_TRUE(eventsOf(orgId, EventType::Lost).empty());

    EXPECT_FALSE(broker().accessToken(ann.legacyId, "sync").accessToken.empty());
    EXPECT_EQ(refreshCalls(), 2);
    EXPECT_TRUE(metricsShow("bridge_broker_requests_total{outcome=\"salesforce_unavailable\"} 1"));
}

TEST_F(TokenBrokerTest, HungSalesforceAnswersWithinTheTimeoutAndOtherOrganizationsGoOn) {
    const std::int64_t hungOrg = createOrganization("Hung");
    const User hungUser = createUser(hungOrg, "ann@hung.example");
    connect(hungOrg);
    const std::int64_t otherOrg = createOrganization("Other");
    const User otherUser = createUser(otherOrg, "bob@other.example");
    connect(otherOrg);
    StandinFault hang;
    hang.kind = "hang";
    hang.grant = "refresh_token";
    hang.hangMs = 5000;
    standin_.injectFault(hang);

    // The first request leads the refresh that hangs; the others join it.
    auto request = [&] {
        const auto started = Clock::now();
        const ErrorCode code = errorOf([&] { broker().accessToken(hungUser.legacyId, "sync"); }).code();
        return std::make_pair(code, millisecondsSince(started));
    };
    auto leader = std::async(std::launch::async, request);
    ASSERT_TRUE(waitUntil([&] { return standin_.counter("faultsServed") == 1; }, 2000ms));
    std::vector<std::future<std::pair<ErrorCode, std::int64_t>>> joiners;
    for (int joiner = 0; joiner < 5; ++joiner) joiners.push_back(std::async(std::launch::async, request));

    const auto otherStarted = Clock::now();
    EXPECT_FALSE(broker().accessToken(otherUser.legacyId, "sync").accessToken.empty());
    EXPECT_LT(millisecondsSince(otherStarted), 300);

    const auto bound = std::chrono::milliseconds(kSalesforceTimeout + kLeaseMargin + kSlack).count();
    const auto [leaderCode, leaderMs] = leader.get();
    EXPECT_EQ(leaderCode, ErrorCode::SalesforceUnavailable);
    EXPECT_GE(leaderMs, std::chrono::milliseconds(kSalesforceTimeout).count() - 50);
    EXPECT_LT(leaderMs, bound);
    for (auto& joiner : joiners) {
        const auto [code, milliseconds] = joiner.get();
        EXPECT_EQ(code, ErrorCode::SalesforceUnavailable);
        EXPECT_LT(milliseconds, bound);
    }
    EXPECT_EQ(store_.loadConnection(hungOrg).status, ConnectionStatus::Connected);
    EXPECT_TRUE(eventsOf(hungOrg, EventType::Lost).empty());
    EXPECT_EQ(refreshCallsOf(hungOrg), 1);
}

TEST_F(TokenBrokerTest, RotatedRefreshTokensAreStoredAndARetiredOneIsNeverPresented) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    const SealedToken loggedIn = *store_.loadConnection(orgId).refreshToken;
    standin_.settings(StandinSettingsChange{.rotation = true});
    // Two instances take turns, so each must read the token the other rotated in.
    SqliteStore otherStore(databasePath(), kPoolSize);
    const auto instanceA = makeBroker(store_, brokerSettings("instance-a"));
    const auto instanceB = makeBroker(otherStore, brokerSettings("instance-b"));

    constexpr int kRefreshes = 50;
    std::string previous;
    for (int refresh = 0; refresh < kRefreshes; ++refresh) {
        TokenBroker& instance = refresh % 2 == 0 ? *instanceA : *instanceB;
        const AccessGrant grant = instance.accessToken(ann.legacyId, "sync");
        ASSERT_NE(grant.accessToken, previous) << "refresh " << refresh;
        previous = grant.accessToken;
        instance.invalidate(ann.legacyId);
    }

    EXPECT_EQ(refreshCalls(), kRefreshes);
    EXPECT_EQ(standin_.counter("retiredTokenPresented"), 0);
    EXPECT_EQ(eventsOf(orgId, EventType::RefreshTokenRotated).size(), static_cast<std::size_t>(kRefreshes));
    const Connection connection = store_.loadConnection(orgId);
    EXPECT_EQ(connection.status, ConnectionStatus::Connected);
    EXPECT_NE(connection.refreshToken->ciphertext, loggedIn.ciphertext);
    EXPECT_FALSE(instanceA->accessToken(ann.publicId(), "sync").accessToken.empty());  // the chain is alive
}

TEST_F(TokenBrokerTest, RefreshSlowerThanTheLeaseKeepsItByRenewingItSoNoTokenIsPresentedTwice) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    const User bob = createUser(orgId, "bob@acme.example");
    connect(orgId);
    // Salesforce answers in 450 ms; the lease lasts 200 ms unless renewed.
    standin_.settings(StandinSettingsChange{.rotation = true, .refreshDelayMs = 450});
    BrokerSettings settings = brokerSettings("instance-a");
    settings.leaseDuration = 200ms;
    SqliteStore otherStore(databasePath(), kPoolSize);
    const auto instanceA = makeBroker(store_, settings);
    settings.instanceId = "instance-b";
    const auto instanceB = makeBroker(otherStore, settings);

    for (int round = 0; round < 3; ++round) {
        instanceA->invalidate(ann.legacyId);
        instanceB->invalidate(bob.legacyId);
        std::vector<std::future<AccessGrant>> grants;
        for (int i = 0; i < 8; ++i) {
            grants.push_back(std::async(std::launch::async, [&, i] {
                return (i % 2 == 0 ? *instanceA : *instanceB)
                    .accessToken(i % 4 < 2 ? ann.legacyId : bob.legacyId, "sync");
            }));
        }
        for (auto& grant : grants) EXPECT_FALSE(grant.get().accessToken.empty()) << "round " << round;
    }

    EXPECT_GE(refreshCalls(), 3);
    EXPECT_EQ(standin_.counter("maxPresentationsPerRefreshToken"), 1);
    EXPECT_EQ(standin_.counter("retiredTokenPresented"), 0);
    EXPECT_EQ(store_.loadConnection(orgId).status, ConnectionStatus::Connected);
}

// The store fails at the one point where a rotated refresh token exists only in this process: Salesforce has
// answered it (and retired the presented one), and another connection holds SQLite's writer lock until well after
// the lease ends. The token goes to the recovery file, sealed; the next start writes it, and the next refresh
// presents it.
TEST_F(TokenBrokerTest, RotatedRefreshTokenTheStoreCannotTakeIsKeptSealedAndReappliedAtTheNextStart) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    const SealedToken presented = *store_.loadConnection(orgId).refreshToken;
    const std::string presentedInTheClear = cipher_.open(presented, Connectivity::refreshTokenAssociatedData(orgId));
    standin_.settings(StandinSettingsChange{.rotation = true, .refreshDelayMs = 300});
    const std::string recoveryFile = (directory_ / "refresh-recovery.jsonl").string();
    BrokerSettings settings = brokerSettings();
    settings.leaseDuration = 1500ms;
    settings.recoveryFile = recoveryFile;

    {
        SqliteStore impatientStore(databasePath(), kPoolSize, 1s);  // SQLite waits 1 s for the writer's lock
        const auto instance = makeBroker(impatientStore, settings);
        refreshWhileAnotherConnectionHoldsTheWriterLock(*instance, ann.legacyId, settings.leaseDuration);
    }
    // Kept: one entry, owner-only, sealed values only.
    ASSERT_TRUE(std::filesystem::exists(recoveryFile));
    EXPECT_EQ(std::filesystem::status(recoveryFile).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::string kept;
    {
        std::ifstream in(recoveryFile);
        std::getline(in, kept);
        std::string more;
        EXPECT_FALSE(std::getline(in, more)) << "one entry";
    }
    const auto entry = Poco::JSON::Parser().parse(kept).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(entry->getValue<std::int64_t>("orgId"), orgId);
    EXPECT_EQ(entry->getValue<std::string>("presentedCiphertext"), presented.ciphertext);
    const SealedToken rotated{entry->getValue<std::string>("rotatedKeyId"),
                              entry->getValue<std::string>("rotatedCiphertext")};
    const std::string rotatedInTheClear = cipher_.open(rotated, Connectivity::refreshTokenAssociatedData(orgId));
    EXPECT_NE(rotatedInTheClear, presentedInTheClear);
    EXPECT_EQ(kept.find(rotatedInTheClear), std::string::npos);
    EXPECT_EQ(kept.find(presentedInTheClear), std::string::npos);
    EXPECT_TRUE(metricsShow("bridge_refresh_token_recovery_total{result=\"kept\"} 1"));
    // The store still holds the token Salesforce retired: presented now, it would lose the connection.
    EXPECT_EQ(store_.loadConnection(orgId).refreshToken->ciphertext, presented.ciphertext);

    // The next start.
    const auto restarted = makeBroker(store_, settings);
    EXPECT_EQ(restarted->reapplyRecoveredRefreshTokens(), 1);
    EXPECT_EQ(store_.loadConnection(orgId).refreshToken->ciphertext, rotated.ciphertext);
    EXPECT_EQ(std::filesystem::file_size(recoveryFile), 0u) << "the applied entry is removed";
    EXPECT_EQ(restarted->reapplyRecoveredRefreshTokens(), 0);

    EXPECT_FALSE(restarted->accessToken(ann.legacyId, "sync").accessToken.empty());
    EXPECT_EQ(refreshCalls(), 2);
    EXPECT_EQ(standin_.counter("retiredTokenPresented"), 0);
    EXPECT_EQ(standin_.counter("maxPresentationsPerRefreshToken"), 1);
    const Connection connection = store_.loadConnection(orgId);
    EXPECT_EQ(connection.status, ConnectionStatus::Connected);
    EXPECT_NE(connection.refreshToken->ciphertext, rotated.ciphertext) << "rotated again by the last refresh";
}

// The same, without a restart: the instance that kept the token writes it into the store before it refreshes the
// organization again, and refuses to refresh while it cannot.
TEST_F(TokenBrokerTest, RotatedRefreshTokenKeptByThisProcessIsReappliedBeforeItsNextRefresh) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    connect(orgId);
    const SealedToken presented = *store_.loadConnection(orgId).refreshToken;
    standin_.settings(StandinSettingsChange{.rotation = true, .refreshDelayMs = 300});
    BrokerSettings settings = brokerSettings();
    settings.leaseDuration = 1500ms;
    settings.recoveryFile = (directory_ / "refresh-recovery.jsonl").string();
    SqliteStore impatientStore(databasePath(), kPoolSize, 1s);
    const auto instance = makeBroker(impatientStore, settings);
    refreshWhileAnotherConnectionHoldsTheWriterLock(*instance, ann.legacyId, settings.leaseDuration);
    ASSERT_EQ(store_.loadConnection(orgId).refreshToken->ciphertext, presented.ciphertext);

    // While the store still cannot take it, the instance does not refresh: Salesforce is not asked.
    {
        Poco::Data::Session writer("SQLite", databasePath());
        writer << "BEGIN IMMEDIATE", Poco::Data::Keywords::now;
        EXPECT_EQ(errorOf([&] { instance->accessToken(ann.legacyId, "sync"); }).code(), ErrorCode::StoreUnavailable);
        writer << "ROLLBACK", Poco::Data::Keywords::now;
    }
    EXPECT_EQ(refreshCalls(), 1);

    EXPECT_FALSE(instance->accessToken(ann.legacyId, "sync").accessToken.empty());
    EXPECT_EQ(refreshCalls(), 2);
    EXPECT_EQ(standin_.counter("retiredTokenPresented"), 0);
    EXPECT_EQ(standin_.counter("maxPresentationsPerRefreshToken"), 1);
    EXPECT_EQ(std::filesystem::file_size(settings.recoveryFile), 0u);
    EXPECT_TRUE(metricsShow("bridge_refresh_token_recovery_total{result=\"reapplied\"} 1"));
    EXPECT_EQ(store_.loadConnection(orgId).status, ConnectionStatus::Connected);
}

TEST_F(TokenBrokerTest, ChangesByAnotherInstanceShowWithinTheSnapshotAge) {
    const std::int64_t orgId = createOrganization("Acme");
    const User ann = createUser(orgId, "ann@acme.example");
    const User bob = createUser(orgId, "bob@acme.example");
    connect(orgId);
    broker().accessToken(ann.legacyId, "sync");
    broker().accessToken(bob.legacyId, "sync");

    // Another instance's panel deactivates Bob and loses the connection: nobody tells this one.
    UserChanges deactivate;
    deactivate.active = false;
    store_.updateUser(bob.legacyId, deactivate);
    changeConnection(orgId, [](Connection& connection) {
        connection.status = ConnectionStatus::Disconnected;
        connection.lastError = kLostReason;
    });
    std::this_thread::sleep_for(1100ms);
    EXPECT_EQ(errorOf([&] { broker().accessToken(bob.legacyId, "sync"); }).code(), ErrorCode::UserInactive);
    EXPECT_EQ(errorOf([&] { broker().accessToken(ann.legacyId, "sync"); }).code(), ErrorCode::SyncSuspended);
    EXPECT_EQ(refreshCalls(), 1);
}

TEST_F(TokenBrokerTest, KeepAliveRefreshesIdleConnectionsOnly) {
    const std::int64_t idleOrg = createOrganization("Idle");
    const User ann = createUser(idleOrg, "ann@idle.example");
    connect(idleOrg, nowSeconds() - 3600);
    const std::int64_t busyOrg = createOrganization("Busy");
    connect(busyOrg);
    const UnixSeconds started = nowSeconds();

    KeepAlive keepAlive(broker(), store_, KeepAliveSettings{.idleAfter = 600s, .checkEvery = 100ms});
    ASSERT_TRUE(waitUntil([&] { return store_.loadConnection(idleOrg).lastRefreshAt.value_or(0) >= started; }, 5s));
    std::this_thread::sleep_for(300ms);  // a few more rounds: nothing is idle any more
    keepAlive.stop();

    EXPECT_EQ(refreshCallsOf(idleOrg), 1);
    EXPECT_EQ(refreshCallsOf(busyOrg), 0);
    EXPECT_EQ(store_.loadConnection(idleOrg).status, ConnectionStatus::Connected);
    // What the keep-alive minted serves the next request.
    EXPECT_FALSE(broker().accessToken(ann.legacyId, "sync").accessToken.empty());
    EXPECT_EQ(refreshCalls(), 1);
}

TEST_F(TokenBrokerTest, KeepAliveMovesAFailedConnectionToTheBackOfTheQueue) {
    // Two idle connections and room for one per round; the first one listed keeps failing, because another
    // instance holds its refresh lease and never finishes. Listing by organization id alone would pick it in every
    // round and the second connection would never be kept alive.
    const std::int64_t stuckOrg = createOrganization("Stuck");
    connect(stuckOrg, nowSeconds() - 3600);
    const std::int64_t nextOrg = createOrganization("Next");
    connect(nextOrg, nowSeconds() - 3600);
    ASSERT_TRUE(store_.tryAcquireRefreshLease(stuckOrg, "another-instance", 60s));
    const UnixSeconds started = nowSeconds();

    KeepAlive keepAlive(broker(), store_,
                        KeepAliveSettings{.idleAfter = 600s, .checkEvery = 50ms, .connectionsPerRound = 1});
    ASSERT_TRUE(waitUntil([&] { return store_.loadConnection(nextOrg).lastRefreshAt.value_or(0) >= started; }, 10s));
    keepAlive.stop();

    EXPECT_EQ(refreshCallsOf(nextOrg), 1);
    EXPECT_EQ(refreshCallsOf(stuckOrg), 0);
    EXPECT_LT(store_.loadConnection(stuckOrg).lastRefreshAt.value_or(0), started);
}

TEST_F(TokenBrokerTest, KeepAliveRecordsALossAndStopsPromptly) {
    const std::int64_t orgId = createOrganization("Idle");
    const User ann = createUser(orgId, "ann@idle.example");
    connect(orgId, nowSeconds() - 3600);
    ASSERT_EQ(standin_.expireRefreshTokens(), 1);

    KeepAlive keepAlive(broker(), store_, KeepAliveSettings{.idleAfter = 600s, .checkEvery = 3600s});
    ASSERT_TRUE(waitUntil([&] { return store_.loadConnection(orgId).status == ConnectionStatus::Disconnected; }, 5s));
    EXPECT_EQ(eventsOf(orgId, EventType::Lost).size(), 1u);
    EXPECT_TRUE(store_.findUser(ann.legacyId)->syncSuspended);

    const auto stopping = Clock::now();
    keepAlive.stop();
    EXPECT_LT(millisecondsSince(stopping), 200);
}

}  // namespace
}  // namespace bridge
