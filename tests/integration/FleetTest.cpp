// Several bridge instances behind one load balancer (issue "Shared store on MySQL/MariaDB"): two `bridge serve`
// processes on one private MariaDB and one Salesforce stand-in. What one instance writes the other reads at once, a
// login started on one finishes on the other, the broker's single flight, rotation, loss and keep-alive hold across
// the fleet, and the database stopping and coming back is answered with 503s, then full service, without restarts.
#include <Poco/JSON/Array.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/URI.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ServerHarness.h"
#include "testsupport/MariaDbServer.h"
#include "testsupport/RunTogether.h"
#include "testsupport/ServeProcess.h"
#include "testsupport/StandinProcess.h"
#include "testsupport/WebhookReceiver.h"

namespace bridge::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testsupport::MariaDbServer;
using testsupport::ServeProcess;
using testsupport::StandinProcess;

const std::string kJwtSecret = "fleet-test-admin-signing-secret-of-40-bytes";
const std::string kCryptoKeys = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const std::string kCallbackUrl = "http://bridge.example/oauth/salesforce/callback";
const std::string kLegacyPage = "https://legacy.example/sf";
const std::string kModernPage = "https://modern.example/crm";
const std::string kLossReason = "invalid_grant: expired access/refresh token";
const std::string kAccessTokenPath = "/internal/v1/salesforce/access-token";
constexpr int kSalesforceTimeoutMs = 3000;

// An HS256 JWT as the admin tools and the sync engine present it, signed with the fleet's shared secret.
// Main thread only: Poco 1.11's signer counts its users of OpenSSL and tears OpenSSL's locks down whenever the count
// drops to zero, so signers on several threads at once race that teardown (and crash). Threads get tokens signed
// before they start.
std::string signedToken(const std::string& role, const std::vector<std::int64_t>& organizations = {}) {
    Poco::JWT::Token token;
    token.setType("JWT");
    token.setSubject(role + "-fleet-test");
    token.payload().set("role", role);
    if (role == "org-admin") {
        Poco::JSON::Array::Ptr orgs = new Poco::JSON::Array;
        for (const std::int64_t organization : organizations) orgs->add(organization);
        token.payload().set("orgs", orgs);
    }
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    token.setExpiration(Poco::Timestamp::fromEpochTime((now + std::chrono::hours(1)).time_since_epoch().count()));
    return Poco::JWT::Signer(kJwtSecret).sign(token, Poco::JWT::Signer::ALGO_HS256);
}

// Two instances on one MariaDB and one stand-in, configured alike: what a load balancer would have behind it.
class Fleet {
public:
    // `forBoth` and `forB`: environment variables added to both instances' configuration, or to B's only.
    Fleet(std::optional<int> keepAliveSeconds, const std::map<std::string, std::string>& forBoth,
          const std::map<std::string, std::string>& forB) {
        database_.createDatabase("bridge");
        database_.createUser("bridge", "bridge_pw", "bridge");
        std::map<std::string, std::string> environment{
            {"BRIDGE_HTTP_PORT", "0"},
            {"BRIDGE_STORE_DSN", database_.dsn("bridge", "bridge", "bridge_pw")},
            {"BRIDGE_CRYPTO_KEYS", kCryptoKeys},
            {"BRIDGE_ADMIN_JWTSECRET", kJwtSecret},
            {"BRIDGE_SALESFORCE_CLIENTID", salesforce_.clientId()},
            {"BRIDGE_SALESFORCE_CLIENTSECRET", salesforce_.clientSecret()},
            {"BRIDGE_SALESFORCE_LOGINURL_PRODUCTION", salesforce_.baseUrl()},
            {"BRIDGE_SALESFORCE_LOGINURL_SANDBOX", salesforce_.baseUrl()},
            {"BRIDGE_SALESFORCE_CALLBACKURL", kCallbackUrl},
            {"BRIDGE_SALESFORCE_TIMEOUTMS", std::to_string(kSalesforceTimeoutMs)},
            {"BRIDGE_PANEL_LEGACY_RETURNURL", kLegacyPage},
            {"BRIDGE_PANEL_MODERN_RETURNURL", kModernPage},
        };
        if (keepAliveSeconds) environment["BRIDGE_SALESFORCE_KEEPALIVESECONDS"] = std::to_string(*keepAliveSeconds);
        environment.insert(forBoth.begin(), forBoth.end());
        environmentOfA_ = environment;
        instanceA_ = std::make_unique<ServeProcess>(environment);
        for (const auto& [name, value] : forB) environment[name] = value;
        environmentOfB_ = environment;
        instanceB_ = std::make_unique<ServeProcess>(environment);
    }

    MariaDbServer& database() { return database_; }
    StandinProcess& salesforce() { return salesforce_; }
    ServeProcess& instanceA() { return *instanceA_; }
    ServeProcess& instanceB() { return *instanceB_; }
    // A crash of A, then A started again with the same configuration (on another port).
    void restartA() {
        instanceA_->crash();
        instanceA_.reset();
        instanceA_ = std::make_unique<ServeProcess>(environmentOfA_);
    }
    // B's crash alone (it stays down until restartB).
    void crashB() { instanceB_->crash(); }
    void restartB() {
        instanceB_->crash();
        instanceB_.reset();
        instanceB_ = std::make_unique<ServeProcess>(environmentOfB_);
    }

private:
    std::map<std::string, std::string> environmentOfA_;
    std::map<std::string, std::string> environmentOfB_;
    MariaDbServer database_;
    StandinProcess salesforce_;
    std::unique_ptr<ServeProcess> instanceA_;
    std::unique_ptr<ServeProcess> instanceB_;
};

struct Profile {
    std::string id;
    std::int64_t legacyOrgId = 0;
};

struct CreatedUser {
    std::string id;
    std::int64_t legacyId = 0;
};

std::string legacyConnectivityPath(std::int64_t orgId) {
    return "/legacy/api/organizations/" + std::to_string(orgId) + "/salesforce-connectivity";
}

std::string legacyUsersPath(std::int64_t orgId) {
    return "/legacy/api/organizations/" + std::to_string(orgId) + "/users?limit=500";
}

std::string brokerBody(std::int64_t legacyUserId) {
    return R"({"legacyUserId": )" + std::to_string(legacyUserId) + R"(, "client": "sync"})";
}

// The callback URL Salesforce redirected the browser to, as a request to one instance.
std::string callbackPathAndQuery(const std::string& salesforceRedirect) {
    return Poco::URI(salesforceRedirect).getPathAndQuery();
}

std::vector<std::string> eventTypes(int port, const Profile& profile) {
    const HttpResult events = httpCall(port, "GET", "/api/v2/profiles/" + profile.id + "/connectivity/events?limit=500",
                                       signedToken("support"));
    EXPECT_EQ(events.status, 200) << events.body;
    std::vector<std::string> types;
    const auto items = events.json()->getArray("items");
    for (std::size_t i = 0; i < items->size(); ++i) types.push_back(items->getObject(i)->getValue<std::string>("type"));
    return types;
}

long countOf(const std::vector<std::string>& types, const std::string& type) {
    return std::count(types.begin(), types.end(), type);
}

std::string accessTokenOf(const HttpResult& answer) { return answer.json()->getValue<std::string>("accessToken"); }

// Panel and broker requests from a few threads, through both instances in turn, until stopped: what a fleet serves
// while its database goes away and comes back. Every answer must be a success or the store's 503.
class BackgroundLoad {
public:
    struct Outcome {
        std::vector<std::string> unexpectedAnswers;
        Clock::duration slowestAnswer{};
        int storeUnavailableAnswers = 0;
        std::map<std::string, std::string> createdUsers;    // email -> display name, answered 201
        std::map<std::string, std::string> attemptedUsers;  // every user the load asked for, 201 or 503
    };

    BackgroundLoad(const Profile& profile, std::int64_t brokerUserId, std::vector<int> ports)
        : adminToken_(signedToken("org-admin", {profile.legacyOrgId})), syncEngineToken_(signedToken("sync-engine")) {
        for (int worker = 0; worker < kWorkers; ++worker) {
            workers_.emplace_back([this, profile, brokerUserId, ports, worker] {
                for (int i = 0; !stopping_; ++i) {
                    request(profile, brokerUserId, ports[static_cast<std::size_t>(worker + i) % ports.size()], worker,
                            i);
                    std::this_thread::sleep_for(10ms);
                }
            });
        }
    }

    ~BackgroundLoad() { stop(); }

    Outcome stop() {
        stopping_ = true;
        for (auto& worker : workers_) {
            if (worker.joinable()) worker.join();
        }
        std::lock_guard lock(mutex_);
        return outcome_;
    }

private:
    static constexpr int kWorkers = 4;

    void request(const Profile& profile, std::int64_t brokerUserId, int port, int worker, int sequence) {
        const std::string email = "load-" + std::to_string(worker) + "-" + std::to_string(sequence) + "@load.example";
        const std::string displayName = "Load " + std::to_string(worker) + "/" + std::to_string(sequence);
        const std::string& admin = adminToken_;
        const bool createsUser = sequence % 4 == 3;
        const auto started = Clock::now();
        HttpResult answer;
        try {
            switch (sequence % 4) {
                case 0: answer = httpCall(port, "GET", legacyConnectivityPath(profile.legacyOrgId), admin); break;
                case 1: answer = httpCall(port, "GET", "/api/v2/profiles/" + profile.id + "/users", admin); break;
                case 2:
                    answer = httpCall(port, "POST", kAccessTokenPath, syncEngineToken_, brokerBody(brokerUserId));
                    break;
                default:
                    answer = httpCall(port, "POST", "/api/v2/profiles/" + profile.id + "/users", admin,
                                      R"({"email": ")" + email + R"(", "displayName": ")" + displayName + R"("})");
            }
        } catch (const std::exception& failure) {
            answer.body = failure.what();  // status 0: no answer at all
        }
        const Clock::duration took = Clock::now() - started;

        std::lock_guard lock(mutex_);
        outcome_.slowestAnswer = std::max(outcome_.slowestAnswer, took);
        if (createsUser) outcome_.attemptedUsers[email] = displayName;
        if (answer.status == 200 || answer.status == 201) {
            if (createsUser) outcome_.createdUsers[email] = displayName;
        } else if (answer.status == 503 && answer.body.find("STORE_UNAVAILABLE") != std::string::npos) {
            ++outcome_.storeUnavailableAnswers;
        } else {
            outcome_.unexpectedAnswers.push_back(std::to_string(answer.status) + " " + answer.body);
        }
    }

    const std::string adminToken_;
    const std::string syncEngineToken_;
    std::atomic<bool> stopping_{false};
    std::mutex mutex_;
    Outcome outcome_;
    std::vector<std::thread> workers_;
};

// The fleet of the running suite: each suite starts its own in SetUpTestSuite (ctest runs every test in a process
// of its own, so a suite's fleet is its tests' setup).
class FleetTestBase : public ::testing::Test {
protected:
    static void startFleet(std::optional<int> keepAliveSeconds, const std::map<std::string, std::string>& forBoth = {},
                           const std::map<std::string, std::string>& forB = {}) {
        fleet_ = new Fleet(keepAliveSeconds, forBoth, forB);
        syncEngineToken_ = signedToken("sync-engine");
    }
    static void TearDownTestSuite() {
        delete fleet_;
        fleet_ = nullptr;
    }
    static Fleet& fleet() { return *fleet_; }

    // Each test starts from the stand-in's defaults: approving, no faults, no rotation, counters at 0.
    void SetUp() override { fleet().salesforce().reset(); }

    static int portA() { return fleet().instanceA().port(); }
    static int portB() { return fleet().instanceB().port(); }

    static Profile createProfile(int port, const std::string& name) {
        const HttpResult created =
            httpCall(port, "POST", "/api/v2/profiles", signedToken("support"), R"({"name": ")" + name + R"("})");
        EXPECT_EQ(created.status, 201) << created.body;
        return {created.json()->getValue<std::string>("id"), created.json()->getValue<std::int64_t>("legacyOrgId")};
    }

    static HttpResult postUser(int port, const Profile& profile, const std::string& email,
                               const std::string& displayName) {
        return httpCall(port, "POST", "/api/v2/profiles/" + profile.id + "/users", signedToken("support"),
                        R"({"email": ")" + email + R"(", "displayName": ")" + displayName + R"("})");
    }

    static CreatedUser createUser(int port, const Profile& profile, const std::string& email,
                                  const std::string& displayName) {
        const HttpResult created = postUser(port, profile, email, displayName);
        EXPECT_EQ(created.status, 201) << created.body;
        return {created.json()->getValue<std::string>("id"), created.json()->getValue<std::int64_t>("legacyUserId")};
    }

    // A Salesforce service account of the organization's own, so that no two tests share a Salesforce user.
    static void logInAtSalesforceAsServiceAccountOf(const Profile& profile) {
        char userId[16];
        char organizationId[16];
        std::snprintf(userId, sizeof userId, "005%012lld", static_cast<long long>(profile.legacyOrgId));
        std::snprintf(organizationId, sizeof organizationId, "00D%012lld", static_cast<long long>(profile.legacyOrgId));
        fleet().salesforce().setIdentity({.userId = userId,
                                          .organizationId = organizationId,
                                          .username = "svc-" + profile.id + "@fleet.example",
                                          .email = "svc-" + profile.id + "@fleet.example"});
    }

    // The admin's browser: logs in at the stand-in and brings the callback to the instance on `finishPort`.
    static HttpResult finishLogin(const std::string& authorizationUrl, int finishPort) {
        return httpCall(finishPort, "GET",
                        callbackPathAndQuery(fleet().salesforce().followAuthorization(authorizationUrl)));
    }

    // The legacy panel's toggle and connect on `startPort`, the browser's return from Salesforce on `finishPort`.
    static void connectThroughLegacy(const Profile& profile, int startPort, int finishPort) {
        const std::string admin = signedToken("org-admin", {profile.legacyOrgId});
        const std::string path = legacyConnectivityPath(profile.legacyOrgId);
        ASSERT_EQ(httpCall(startPort, "PUT", path, admin, R"({"loginUsingServiceAccount": true})").status, 200);
        const HttpResult started =
            httpCall(startPort, "POST", path + "/connect", admin, R"({"environment": "production"})");
        ASSERT_EQ(started.status, 200) << started.body;
        logInAtSalesforceAsServiceAccountOf(profile);
        const HttpResult finished =
            finishLogin(started.json()->getObject("data")->getValue<std::string>("authorizationUrl"), finishPort);
        ASSERT_EQ(finished.status, 302) << finished.body;
        ASSERT_EQ(finished.header("Location"), kLegacyPage + "?connectivity=connected");
    }

    // An organization with `users` active users (created through both instances), connected by a login started on
    // A and finished on B.
    static std::pair<Profile, std::vector<CreatedUser>> connectedOrganization(const std::string& name, int users) {
        const Profile profile = createProfile(portA(), name);
        std::vector<CreatedUser> created;
        for (int i = 0; i < users; ++i) {
            created.push_back(createUser(i % 2 == 0 ? portA() : portB(), profile,
                                         "user" + std::to_string(i) + "@" + profile.id + ".example",
                                         "User " + std::to_string(i)));
        }
        connectThroughLegacy(profile, portA(), portB());
        return {profile, created};
    }

    static HttpResult brokerToken(int port, std::int64_t legacyUserId) {
        return httpCall(port, "POST", kAccessTokenPath, syncEngineToken_, brokerBody(legacyUserId));
    }

    static void invalidate(int port, std::int64_t legacyUserId) {
        const HttpResult answer = httpCall(port, "POST", kAccessTokenPath + "/invalidate", syncEngineToken_,
                                           R"({"legacyUserId": )" + std::to_string(legacyUserId) + "}");
        ASSERT_EQ(answer.status, 204) << answer.body;
    }

private:
    static inline Fleet* fleet_ = nullptr;
    static inline std::string syncEngineToken_;  // brokerToken() runs on many threads at once
};

// Two instances with keep-alive at its default (24 h): no background refresh disturbs the counts.
class FleetTest : public FleetTestBase {
protected:
    static void SetUpTestSuite() { startFleet(std::nullopt); }
};

TEST_F(FleetTest, WriteThroughOneInstanceIsReadThroughTheOtherAtOnceInBothPanels) {
    const Profile profile = createProfile(portA(), "Written on A");
    const std::string admin = signedToken("org-admin", {profile.legacyOrgId});
    const std::string support = signedToken("support");

    const HttpResult organizations = httpCall(portB(), "GET", "/legacy/api/organizations", admin);
    ASSERT_EQ(organizations.status, 200) << organizations.body;
    const auto listed = organizations.json()->getArray("data");
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ(listed->getObject(0)->getValue<std::int64_t>("id"), profile.legacyOrgId);
    EXPECT_EQ(listed->getObject(0)->getValue<std::string>("name"), "Written on A");

    const CreatedUser ann = createUser(portB(), profile, "ann@written.example", "Ann");
    const HttpResult annOnA = httpCall(
        portA(), "GET",
        "/legacy/api/organizations/" + std::to_string(profile.legacyOrgId) + "/users/" + std::to_string(ann.legacyId),
        admin);
    ASSERT_EQ(annOnA.status, 200) << annOnA.body;
    EXPECT_EQ(annOnA.json()->getObject("data")->getValue<std::string>("email"), "ann@written.example");
    EXPECT_EQ(annOnA.json()->getObject("data")->getValue<std::string>("displayName"), "Ann");

    const HttpResult changed = httpCall(portA(), "PATCH", "/api/v2/profiles/" + profile.id + "/users/" + ann.id,
                                        support, R"({"displayName": "Ann Renamed", "active": false})");
    ASSERT_EQ(changed.status, 200) << changed.body;
    const HttpResult usersOnB = httpCall(portB(), "GET", "/api/v2/profiles/" + profile.id + "/users", support);
    ASSERT_EQ(usersOnB.status, 200) << usersOnB.body;
    const auto items = usersOnB.json()->getArray("items");
    ASSERT_EQ(items->size(), 1u);
    EXPECT_EQ(items->getObject(0)->getValue<std::string>("displayName"), "Ann Renamed");
    EXPECT_FALSE(items->getObject(0)->getValue<bool>("active"));

    // The same email, other letter case, through the other instance: the store keeps emails unique, not an instance.
    const HttpResult twin = postUser(portA(), profile, "ANN@written.example", "Ann again");
    EXPECT_EQ(twin.status, 409) << twin.body;
    EXPECT_EQ(twin.json()->getValue<std::string>("code"), "EMAIL_TAKEN");

    const std::string path = legacyConnectivityPath(profile.legacyOrgId);
    ASSERT_EQ(httpCall(portB(), "PUT", path, admin, R"({"loginUsingServiceAccount": true})").status, 200);
    const HttpResult toggleOnA = httpCall(portA(), "GET", path, admin);
    ASSERT_EQ(toggleOnA.status, 200) << toggleOnA.body;
    EXPECT_TRUE(toggleOnA.json()->getObject("data")->getValue<bool>("loginUsingServiceAccount"));
}

TEST_F(FleetTest, LoginStartedOnOneInstanceIsFinishedByTheCallbackOnTheOtherOnce) {
    const std::string support = signedToken("support");

    // Legacy panel: started on A, finished on B.
    const Profile legacyProfile = createProfile(portB(), "Legacy login");
    const std::string admin = signedToken("org-admin", {legacyProfile.legacyOrgId});
    const std::string path = legacyConnectivityPath(legacyProfile.legacyOrgId);
    ASSERT_EQ(httpCall(portA(), "PUT", path, admin, R"({"loginUsingServiceAccount": true})").status, 200);
    const HttpResult started = httpCall(portA(), "POST", path + "/connect", admin, R"({"environment": "sandbox"})");
    ASSERT_EQ(started.status, 200) << started.body;
    logInAtSalesforceAsServiceAccountOf(legacyProfile);
    const std::string salesforceRedirect = fleet().salesforce().followAuthorization(
        started.json()->getObject("data")->getValue<std::string>("authorizationUrl"));
    const HttpResult finishedOnB = httpCall(portB(), "GET", callbackPathAndQuery(salesforceRedirect));
    ASSERT_EQ(finishedOnB.status, 302) << finishedOnB.body;
    EXPECT_EQ(finishedOnB.header("Location"), kLegacyPage + "?connectivity=connected");

    const HttpResult legacyOnA = httpCall(portA(), "GET", path, admin);
    ASSERT_EQ(legacyOnA.status, 200) << legacyOnA.body;
    const auto legacyData = legacyOnA.json()->getObject("data");
    EXPECT_EQ(legacyData->getValue<std::string>("connectionStatus"), "Established");
    EXPECT_EQ(legacyData->getValue<std::string>("environment"), "sandbox");
    EXPECT_EQ(legacyData->getValue<std::string>("serviceAccountUserId").size(), 18u);

    // The state is single use across the fleet: the same callback played on A is refused.
    const HttpResult replayedOnA = httpCall(portA(), "GET", callbackPathAndQuery(salesforceRedirect));
    ASSERT_EQ(replayedOnA.status, 302) << replayedOnA.body;
    EXPECT_EQ(replayedOnA.header("Location"), kLegacyPage + "?connectivity=error&reason=STATE_INVALID");

    // New panel: started on B, finished on A.
    const Profile modernProfile = createProfile(portA(), "Modern login");
    const HttpResult login =
        httpCall(portB(), "POST", "/api/v2/profiles/" + modernProfile.id + "/connectivity/crm/login", support,
                 R"({"environment": "production"})");
    ASSERT_EQ(login.status, 200) << login.body;
    logInAtSalesforceAsServiceAccountOf(modernProfile);
    const HttpResult finishedOnA = finishLogin(login.json()->getValue<std::string>("authorizationUrl"), portA());
    ASSERT_EQ(finishedOnA.status, 302) << finishedOnA.body;
    EXPECT_EQ(finishedOnA.header("Location"), kModernPage + "?connectivity=connected");

    const HttpResult modernOnB =
        httpCall(portB(), "GET", "/api/v2/profiles/" + modernProfile.id + "/connectivity", support);
    ASSERT_EQ(modernOnB.status, 200) << modernOnB.body;
    const auto crm = modernOnB.json()->getObject("crm");
    EXPECT_EQ(crm->getValue<std::string>("status"), "Connected");
    EXPECT_EQ(crm->getObject("serviceAccount")->getValue<std::string>("organizationId").size(), 18u);
    const HttpResult toggleOnB = httpCall(portB(), "GET", legacyConnectivityPath(modernProfile.legacyOrgId),
                                          signedToken("org-admin", {modernProfile.legacyOrgId}));
    EXPECT_TRUE(toggleOnB.json()->getObject("data")->getValue<bool>("loginUsingServiceAccount"));

    // Two logins, two code exchanges: the replay exchanged nothing.
    EXPECT_EQ(fleet().salesforce().counter("codeExchanges"), 2);
    for (const Profile& profile : {legacyProfile, modernProfile}) {
        const std::vector<std::string> types = eventTypes(portA(), profile);
        EXPECT_EQ(countOf(types, "login_started"), 1) << profile.id;
        EXPECT_EQ(countOf(types, "connected"), 1) << profile.id;
    }
}

TEST_F(FleetTest, ColdStormSplitOverBothInstancesRefreshesOnceAndSharesOneToken) {
    const auto [profile, users] = connectedOrganization("Cold storm", 4);
    // Salesforce takes half a second: every request of the storm arrives while the one refresh is under way.
    fleet().salesforce().settings({.refreshDelayMs = 500});

    const std::vector<HttpResult> answers = testsupport::runTogether(60, [&, users = users](int i) {
        return brokerToken(i % 2 == 0 ? portA() : portB(), users[static_cast<std::size_t>(i) % users.size()].legacyId);
    });

    std::set<std::string> tokens;
    for (const HttpResult& answer : answers) {
        ASSERT_EQ(answer.status, 200) << answer.body;
        tokens.insert(accessTokenOf(answer));
    }
    EXPECT_EQ(tokens.size(), 1u);
    EXPECT_EQ(fleet().salesforce().counter("refreshCalls"), 1);
    EXPECT_EQ(fleet().salesforce().counter("maxConcurrentRefreshes"), 1);
}

TEST_F(FleetTest, RotationAcrossInstancesNeverPresentsARetiredRefreshToken) {
    const auto [profile, users] = connectedOrganization("Rotation", 2);
    fleet().salesforce().settings({.rotation = true});
    constexpr int kRefreshes = 32;

    std::set<std::string> tokens;
    for (int round = 0; round < kRefreshes; ++round) {
        // The instances take turns: each refresh presents the refresh token the other instance stored last.
        const int refreshing = round % 2 == 0 ? portA() : portB();
        const int other = round % 2 == 0 ? portB() : portA();
        invalidate(refreshing, users[0].legacyId);
        invalidate(other, users[1].legacyId);
        const HttpResult minted = brokerToken(refreshing, users[0].legacyId);
        ASSERT_EQ(minted.status, 200) << "round " << round << ": " << minted.body;
        const HttpResult shared = brokerToken(other, users[1].legacyId);
        ASSERT_EQ(shared.status, 200) << "round " << round << ": " << shared.body;
        EXPECT_EQ(accessTokenOf(shared), accessTokenOf(minted)) << "round " << round;
        tokens.insert(accessTokenOf(minted));
    }

    EXPECT_EQ(tokens.size(), static_cast<std::size_t>(kRefreshes));
    EXPECT_EQ(fleet().salesforce().counter("refreshCalls"), kRefreshes);
    EXPECT_EQ(fleet().salesforce().counter("retiredTokenPresented"), 0);
    EXPECT_EQ(countOf(eventTypes(portB(), profile), "refresh_token_rotated"), kRefreshes);
    const HttpResult connectivity =
        httpCall(portA(), "GET", "/api/v2/profiles/" + profile.id + "/connectivity", signedToken("support"));
    EXPECT_EQ(connectivity.json()->getObject("crm")->getValue<std::string>("status"), "Connected");
}

// The contract's "the next request refreshes" holds fleet-wide: B does not wait out its copy of the token.
TEST_F(FleetTest, InvalidationThroughOneInstanceMakesTheNextRequestOnTheOtherRefresh) {
    const auto [profile, users] = connectedOrganization("Invalidated", 2);
    const HttpResult first = brokerToken(portA(), users[0].legacyId);
    ASSERT_EQ(first.status, 200) << first.body;
    const HttpResult copyOnB = brokerToken(portB(), users[1].legacyId);
    ASSERT_EQ(copyOnB.status, 200) << copyOnB.body;
    ASSERT_EQ(accessTokenOf(copyOnB), accessTokenOf(first));
    ASSERT_EQ(fleet().salesforce().counter("refreshCalls"), 1);

    std::string current = accessTokenOf(first);
    for (int round = 0; round < 3; ++round) {
        invalidate(portA(), users[0].legacyId);
        const HttpResult next = brokerToken(portB(), users[1].legacyId);  // at once: no sleep in between
        ASSERT_EQ(next.status, 200) << "round " << round << ": " << next.body;
        EXPECT_NE(accessTokenOf(next), current) << "round " << round;
        EXPECT_EQ(fleet().salesforce().counter("refreshCalls"), round + 2) << "round " << round;
        const HttpResult onA = brokerToken(portA(), users[0].legacyId);
        EXPECT_EQ(accessTokenOf(onA), accessTokenOf(next)) << "round " << round;
        current = accessTokenOf(next);
    }
}

// An instance that stops answering (SIGSTOP: frozen, or as good as cut off from the store) holds an invalidation up
// only until its record of what it applied lapses (3 s, BrokerSettings::invalidationLease); when it runs again, its
// grants read the invalidations before trusting what it knows.
TEST_F(FleetTest, AFrozenInstanceHoldsAnInvalidationUpAtMostItsLeaseAndObeysItWhenItThaws) {
    const auto [profile, users] = connectedOrganization("Frozen", 2);
    const HttpResult first = brokerToken(portA(), users[0].legacyId);
    ASSERT_EQ(first.status, 200) << first.body;
    ASSERT_EQ(accessTokenOf(brokerToken(portB(), users[1].legacyId)), accessTokenOf(first));

    const int instanceB = fleet().instanceB().pid();
    ASSERT_EQ(::kill(instanceB, SIGSTOP), 0);
    struct Thaw {
        int pid;
        ~Thaw() { ::kill(pid, SIGCONT); }
    } thaw{instanceB};
    const auto started = Clock::now();
    invalidate(portA(), users[0].legacyId);
    const auto held = Clock::now() - started;
    EXPECT_GT(held, 500ms) << "A did not wait for B, whose record was live";
    EXPECT_LT(held, 4500ms) << "A waited for B past its record's lease";
    ::kill(instanceB, SIGCONT);

    const HttpResult onB = brokerToken(portB(), users[1].legacyId);
    ASSERT_EQ(onB.status, 200) << onB.body;
    EXPECT_NE(accessTokenOf(onB), accessTokenOf(first));
    EXPECT_EQ(fleet().salesforce().counter("refreshCalls"), 2);
}

TEST_F(FleetTest, LossIsSeenByBothInstancesWithinASecondAndRecordedOnce) {
    const auto [profile, users] = connectedOrganization("Loss", 3);
    ASSERT_EQ(brokerToken(portA(), users[0].legacyId).status, 200);
    const std::int64_t refreshesBefore = fleet().salesforce().counter("refreshCalls");

    // B keeps serving its copy of the token until the loss reaches it; it must within about a second.
    Clock::time_point lossAnsweredByAAt{};
    Clock::time_point lossAnsweredByBAt{};
    HttpResult lossAnswerOfB;
    // A jthread: joined on every way out of the test, an ASSERT's early return included.
    std::jthread pollB([&, userId = users[1].legacyId] {
        const auto deadline = Clock::now() + 15s;
        while (Clock::now() < deadline) {
            HttpResult answer = brokerToken(portB(), userId);
            if (answer.status != 200) {
                lossAnsweredByBAt = Clock::now();
                lossAnswerOfB = std::move(answer);
                return;
            }
            std::this_thread::sleep_for(20ms);
        }
    });
    std::this_thread::sleep_for(200ms);

    fleet().salesforce().settings({.refreshDelayMs = 300});
    ASSERT_EQ(fleet().salesforce().expireRefreshTokens(), 1);
    invalidate(portA(), users[0].legacyId);
    const std::vector<HttpResult> answersOfA = testsupport::runTogether(10, [&, users = users](int i) {
        return brokerToken(portA(), users[static_cast<std::size_t>(i) % users.size()].legacyId);
    });
    lossAnsweredByAAt = Clock::now();
    pollB.join();

    for (const HttpResult& answer : answersOfA) {
        ASSERT_EQ(answer.status, 409) << answer.body;
        EXPECT_EQ(answer.json()->getValue<std::string>("code"), "SYNC_SUSPENDED");
        EXPECT_EQ(answer.json()->getValue<std::string>("detail"), kLossReason);
    }
    ASSERT_EQ(lossAnswerOfB.status, 409) << lossAnswerOfB.body;
    EXPECT_EQ(lossAnswerOfB.json()->getValue<std::string>("code"), "SYNC_SUSPENDED");
    EXPECT_LT(lossAnsweredByBAt - lossAnsweredByAAt, 1500ms);

    EXPECT_EQ(fleet().salesforce().counter("refreshCalls") - refreshesBefore, 1);
    EXPECT_EQ(countOf(eventTypes(portB(), profile), "lost"), 1);
    const std::string admin = signedToken("org-admin", {profile.legacyOrgId});
    const HttpResult legacyOnB = httpCall(portB(), "GET", legacyConnectivityPath(profile.legacyOrgId), admin);
    EXPECT_EQ(legacyOnB.json()->getObject("data")->getValue<std::string>("connectionStatus"), "Lost");
    EXPECT_EQ(legacyOnB.json()->getObject("data")->getObject("lostDialog")->getValue<std::string>("reason"),
              kLossReason);
    const HttpResult legacyUsers = httpCall(portB(), "GET", legacyUsersPath(profile.legacyOrgId), admin);
    const auto listed = legacyUsers.json()->getObject("data")->getArray("users");
    ASSERT_EQ(listed->size(), users.size());
    for (std::size_t i = 0; i < listed->size(); ++i) {
        EXPECT_TRUE(listed->getObject(i)->getValue<bool>("syncSuspended"));
        EXPECT_EQ(listed->getObject(i)->getValue<std::string>("highlight"), "red");
    }
    const HttpResult modernUsers =
        httpCall(portA(), "GET", "/api/v2/profiles/" + profile.id + "/users", signedToken("support"));
    const auto items = modernUsers.json()->getArray("items");
    for (std::size_t i = 0; i < items->size(); ++i) {
        const auto synchronization = items->getObject(i)->getObject("synchronization");
        EXPECT_EQ(synchronization->getValue<std::string>("status"), "Disabled");
        EXPECT_EQ(synchronization->getValue<std::string>("reason"), kLossReason);
    }
}

// Every user of the organization as the legacy panel lists them: email -> display name.
std::map<std::string, std::string> legacyUserList(int port, const Profile& profile) {
    const HttpResult answer =
        httpCall(port, "GET", legacyUsersPath(profile.legacyOrgId), signedToken("org-admin", {profile.legacyOrgId}));
    EXPECT_EQ(answer.status, 200) << answer.body;
    std::map<std::string, std::string> users;
    const auto data = answer.json()->getObject("data");
    const auto listed = data->getArray("users");
    EXPECT_EQ(data->getValue<std::size_t>("total"), listed->size());
    for (std::size_t i = 0; i < listed->size(); ++i) {
        const auto user = listed->getObject(i);
        EXPECT_TRUE(
            users.emplace(user->getValue<std::string>("email"), user->getValue<std::string>("displayName")).second);
    }
    return users;
}

void waitUntilReady(int port, Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    while (httpCall(port, "GET", "/readyz").status != 200) {
        ASSERT_LT(Clock::now(), deadline) << "instance on port " << port << " never became ready again";
        std::this_thread::sleep_for(100ms);
    }
}

TEST_F(FleetTest, StoreOutageAnswers503WithinSecondsAndFullServiceReturnsWithoutRestart) {
    const auto [profile, users] = connectedOrganization("Outage", 2);
    const HttpResult tokenBefore = brokerToken(portA(), users[0].legacyId);
    ASSERT_EQ(tokenBefore.status, 200) << tokenBefore.body;
    const std::string admin = signedToken("org-admin", {profile.legacyOrgId});
    BackgroundLoad load(profile, users[1].legacyId, {portA(), portB()});
    std::this_thread::sleep_for(500ms);

    fleet().database().stop();
    const auto stoppedAt = Clock::now();
    for (const int port : {portA(), portB()}) {
        const auto started = Clock::now();
        EXPECT_EQ(httpCall(port, "GET", "/readyz").status, 503);
        const HttpResult legacy = httpCall(port, "GET", legacyConnectivityPath(profile.legacyOrgId), admin);
        EXPECT_EQ(legacy.status, 503) << legacy.body;
        EXPECT_FALSE(legacy.json()->getValue<bool>("success"));
        EXPECT_EQ(legacy.json()->getValue<std::string>("errorCode"), "STORE_UNAVAILABLE");
        const HttpResult modern = httpCall(port, "GET", "/api/v2/profiles/" + profile.id + "/connectivity", admin);
        EXPECT_EQ(modern.status, 503) << modern.body;
        EXPECT_EQ(modern.header("Content-Type").rfind("application/problem+json", 0), 0u);
        EXPECT_EQ(modern.json()->getValue<std::string>("code"), "STORE_UNAVAILABLE");
        EXPECT_LT(Clock::now() - started, 3s) << "instance on port " << port << " was slow to say it cannot serve";
        // The broker serves its in-memory copies for at most a second, then says so too.
        HttpResult broker = brokerToken(port, users[0].legacyId);
        while (broker.status == 200 && Clock::now() - stoppedAt < 5s) broker = brokerToken(port, users[0].legacyId);
        EXPECT_EQ(broker.status, 503) << broker.body;
        EXPECT_EQ(broker.json()->getValue<std::string>("code"), "STORE_UNAVAILABLE");
    }
    const std::string outageEmail = "during-outage@outage.example";
    EXPECT_EQ(postUser(portA(), profile, outageEmail, "During outage").status, 503);

    fleet().database().start();
    waitUntilReady(portA(), 20s);
    waitUntilReady(portB(), 20s);
    for (const int port : {portA(), portB()}) {
        for (int attempt = 0; attempt < 5; ++attempt) {
            const HttpResult legacy = httpCall(port, "GET", legacyConnectivityPath(profile.legacyOrgId), admin);
            ASSERT_EQ(legacy.status, 200) << legacy.body;
            EXPECT_EQ(legacy.json()->getObject("data")->getValue<std::string>("connectionStatus"), "Established");
            const HttpResult broker = brokerToken(port, users[attempt % 2].legacyId);
            ASSERT_EQ(broker.status, 200) << broker.body;
            EXPECT_EQ(accessTokenOf(broker), accessTokenOf(tokenBefore));
        }
    }
    std::this_thread::sleep_for(500ms);
    const BackgroundLoad::Outcome outcome = load.stop();

    EXPECT_EQ(outcome.unexpectedAnswers, std::vector<std::string>{});
    // No request hung: each was answered within about the Salesforce timeout, the bound the issue sets.
    EXPECT_LT(outcome.slowestAnswer, std::chrono::milliseconds(kSalesforceTimeoutMs + 2000));
    EXPECT_GT(outcome.storeUnavailableAnswers, 0);
    EXPECT_FALSE(outcome.createdUsers.empty());
    // The stored access token outlived the outage: no refresh was needed, before, during or after.
    EXPECT_EQ(fleet().salesforce().counter("refreshCalls"), 1);

    // Nothing half-written: every user answered 201 is there, whole; every other user is one that was asked for
    // (a 503 whose commit got through may exist, whole) or one of the organization's own; both instances and both
    // panels count the same.
    const std::map<std::string, std::string> listed = legacyUserList(portB(), profile);
    EXPECT_EQ(listed, legacyUserList(portA(), profile));
    for (const auto& [email, displayName] : outcome.createdUsers) {
        EXPECT_TRUE(listed.contains(email) && listed.at(email) == displayName) << email;
    }
    std::size_t usersOfTheLoad = 0;
    for (const auto& [email, displayName] : listed) {
        if (!outcome.attemptedUsers.contains(email)) continue;
        ++usersOfTheLoad;
        EXPECT_EQ(displayName, outcome.attemptedUsers.at(email)) << email;
    }
    EXPECT_EQ(listed.size() - usersOfTheLoad, users.size());
    EXPECT_FALSE(listed.contains(outageEmail));
    const HttpResult modernUsers =
        httpCall(portA(), "GET", "/api/v2/profiles/" + profile.id + "/users?limit=500", signedToken("support"));
    EXPECT_EQ(modernUsers.json()->getArray("items")->size(), listed.size());
    EXPECT_EQ(postUser(portB(), profile, outageEmail, "After outage").status, 201);
}

// The database does not go away but stops answering (SIGSTOP): every connection the instances hold stays open and
// new ones are accepted by the kernel, so only store.timeout (5 s by default) bounds what a request waits.
TEST_F(FleetTest, FrozenDatabaseAnswers503WithinTheStoreTimeoutAndServiceReturnsOnThaw) {
    const auto [profile, users] = connectedOrganization("Frozen", 1);
    ASSERT_EQ(brokerToken(portA(), users[0].legacyId).status, 200);
    const std::string admin = signedToken("org-admin", {profile.legacyOrgId});
    const std::string connectivityPath = "/api/v2/profiles/" + profile.id + "/connectivity";

    fleet().database().freeze();
    struct Answer {
        HttpResult result;
        Clock::duration took{};
    };
    std::vector<std::pair<std::string, std::future<Answer>>> answers;
    const auto ask = [&](int port, std::string method, std::string path, std::string token) {
        const std::string label = method + " " + path + " on port " + std::to_string(port);
        answers.emplace_back(label, std::async(std::launch::async, [=] {
                                 const auto started = Clock::now();
                                 HttpResult result = httpCall(port, method, path, token);
                                 return Answer{std::move(result), Clock::now() - started};
                             }));
    };
    for (const int port : {portA(), portB()}) {
        ask(port, "GET", "/readyz", {});
        ask(port, "GET", legacyConnectivityPath(profile.legacyOrgId), admin);
        ask(port, "GET", connectivityPath, admin);
        ask(port, "GET", legacyUsersPath(profile.legacyOrgId), admin);
    }
    for (auto& [label, future] : answers) {
        ASSERT_EQ(future.wait_for(15s), std::future_status::ready) << label << " still waits on the frozen database";
        const Answer answer = future.get();
        EXPECT_EQ(answer.result.status, 503) << label << ": " << answer.result.body;
        EXPECT_LT(answer.took, 6s) << label;
        if (answer.result.status == 503 && label.find("/readyz") == std::string::npos) {
            const auto body = answer.result.json();
            const std::string code =
                body->has("code") ? body->getValue<std::string>("code") : body->getValue<std::string>("errorCode");
            EXPECT_EQ(code, "STORE_UNAVAILABLE") << label;
        }
    }
    // The broker serves its in-memory copies for at most a second, then waits on the store like everyone else.
    const auto brokerStarted = Clock::now();
    HttpResult broker = brokerToken(portB(), users[0].legacyId);
    while (broker.status == 200 && Clock::now() - brokerStarted < 3s) broker = brokerToken(portB(), users[0].legacyId);
    EXPECT_EQ(broker.status, 503) << broker.body;
    EXPECT_LT(Clock::now() - brokerStarted, 3s + 6s);

    fleet().database().thaw();
    waitUntilReady(portA(), 20s);
    waitUntilReady(portB(), 20s);
    for (const int port : {portA(), portB()}) {
        const HttpResult legacy = httpCall(port, "GET", legacyConnectivityPath(profile.legacyOrgId), admin);
        ASSERT_EQ(legacy.status, 200) << legacy.body;
        EXPECT_EQ(legacy.json()->getObject("data")->getValue<std::string>("connectionStatus"), "Established");
        EXPECT_EQ(httpCall(port, "GET", connectivityPath, admin).status, 200);
        EXPECT_EQ(brokerToken(port, users[0].legacyId).status, 200);
    }
}

// A fleet of its own: its test crashes one of the instances.
class FleetCrashTest : public FleetTestBase {
protected:
    static void SetUpTestSuite() { startFleet(std::nullopt); }
};

TEST_F(FleetCrashTest, CrashedLeaseHolderBlocksTheOtherInstanceNoLongerThanItsLease) {
    const auto [profile, users] = connectedOrganization("Crash", 1);
    fleet().salesforce().settings({.refreshDelayMs = 2000});
    std::jthread requestOnA([userId = users[0].legacyId] {
        try {
            brokerToken(portA(), userId);
        } catch (const std::exception&) {
            // A dies before it answers.
        }
    });
    const auto refreshStartedBy = Clock::now() + 5s;
    while (fleet().salesforce().counter("refreshCalls") == 0) {
        ASSERT_LT(Clock::now(), refreshStartedBy) << "A never started its refresh";
        std::this_thread::sleep_for(10ms);
    }
    const auto crashedAt = Clock::now();
    fleet().instanceA().crash();
    requestOnA.join();

    // A renewed its lease (salesforce.refreshLeaseMs, 6 s by default) every third of it until it died: the lease
    // ends between 4 and 6 s after the crash. B waits it out, answering 503 while it lasts, then refreshes itself
    // (2 s at the stand-in).
    HttpResult answer = brokerToken(portB(), users[0].legacyId);
    while (answer.status == 503 && Clock::now() - crashedAt < 30s) {
        EXPECT_EQ(answer.json()->getValue<std::string>("code"), "SALESFORCE_UNAVAILABLE");
        answer = brokerToken(portB(), users[0].legacyId);
    }
    ASSERT_EQ(answer.status, 200) << answer.body;
    const auto answeredAfter = Clock::now() - crashedAt;
    const auto lease = 6000ms;
    const auto requestBudget = std::chrono::milliseconds(kSalesforceTimeoutMs + 2000);
    EXPECT_GT(answeredAfter, lease * 2 / 3 + 2s) << "B refreshed while A's lease still held";
    EXPECT_LT(answeredAfter, lease + requestBudget + 2s);
    EXPECT_EQ(fleet().salesforce().counter("refreshCalls"), 2);
}

// Both instances with their webhook pointed at one receiver (issue 18): one deliverer at a time in the fleet (the
// store's delivery lease), each event delivered exactly once to a receiver that acknowledges, and nothing lost when
// the fleet is killed between a transition's commit and its delivery.
class FleetWebhookTest : public FleetTestBase {
protected:
    static constexpr const char* kWebhookSecret = "fleet-webhook-secret-of-at-least-32-bytes";

    static void SetUpTestSuite() {
        receiver_ = new testsupport::WebhookReceiver(kWebhookSecret);
        startFleet(std::nullopt, {{"BRIDGE_NOTIFY_WEBHOOKURL", receiver_->url()},
                                  {"BRIDGE_NOTIFY_SECRET", kWebhookSecret},
                                  {"BRIDGE_NOTIFY_TIMEOUTMS", "500"},
                                  {"BRIDGE_NOTIFY_RETRYINITIALMS", "100"},
                                  {"BRIDGE_NOTIFY_POLLMS", "50"}});
    }
    static void TearDownTestSuite() {
        FleetTestBase::TearDownTestSuite();
        delete receiver_;
        receiver_ = nullptr;
    }
    void SetUp() override {
        FleetTestBase::SetUp();
        receiver().setMode(testsupport::WebhookReceiver::Mode::Acknowledge);
        receiver().clear();
    }
    static testsupport::WebhookReceiver& receiver() { return *receiver_; }

    // The organization's notifications as the endpoint shows them through `port`, newest first.
    static Poco::JSON::Array::Ptr notifications(int port, const Profile& profile) {
        const HttpResult answer =
            httpCall(port, "GET", "/api/v2/profiles/" + profile.id + "/notifications", signedToken("support"));
        EXPECT_EQ(answer.status, 200) << answer.body;
        return answer.json()->getArray("items");
    }

private:
    static inline testsupport::WebhookReceiver* receiver_ = nullptr;
};

TEST_F(FleetWebhookTest, EachLossAndRecoveryIsDeliveredExactlyOnceByTheFleetInOrderPerOrganization) {
    constexpr int kOrganizations = 3;
    std::vector<std::pair<Profile, std::vector<CreatedUser>>> organizations;
    for (int i = 0; i < kOrganizations; ++i) {
        organizations.push_back(connectedOrganization("Webhook " + std::to_string(i), 1));
    }
    ASSERT_EQ(fleet().salesforce().expireRefreshTokens(), kOrganizations);
    for (int i = 0; i < kOrganizations; ++i) {
        const HttpResult refused = brokerToken(i % 2 == 0 ? portA() : portB(), organizations[i].second[0].legacyId);
        ASSERT_EQ(refused.status, 409) << refused.body;
    }
    ASSERT_EQ(receiver().waitForAcknowledged(kOrganizations, 10s).size(), static_cast<std::size_t>(kOrganizations));
    for (int i = 0; i < kOrganizations; ++i) {
        const Profile& profile = organizations[i].first;
        ASSERT_NO_FATAL_FAILURE(connectThroughLegacy(profile, i % 2 == 0 ? portB() : portA(), portA()));
    }
    ASSERT_EQ(receiver().waitForAcknowledged(2 * kOrganizations, 10s).size(),
              static_cast<std::size_t>(2 * kOrganizations));
    // A few more looks of both deliverers: a second delivery of anything would arrive meanwhile.
    std::this_thread::sleep_for(500ms);

    const auto requests = receiver().requests();
    ASSERT_EQ(requests.size(), static_cast<std::size_t>(2 * kOrganizations));
    std::set<std::string> ids;
    std::map<std::int64_t, std::vector<std::string>> typesByOrganization;
    for (const auto& request : requests) {
        EXPECT_TRUE(request.authentic) << request.body;
        EXPECT_TRUE(request.acknowledged) << request.body;
        ids.insert(request.id);
        typesByOrganization[request.json->getValue<std::int64_t>("legacyOrgId")].push_back(request.type);
    }
    EXPECT_EQ(ids.size(), requests.size()) << "an event was delivered twice";
    for (const auto& [profile, users] : organizations) {
        EXPECT_EQ(typesByOrganization[profile.legacyOrgId],
                  (std::vector<std::string>{"connection_lost", "connection_recovered"}))
            << profile.legacyOrgId;
        const auto items = notifications(portB(), profile);
        ASSERT_EQ(items->size(), 2u);
        for (std::size_t i = 0; i < items->size(); ++i) {
            EXPECT_EQ(items->getObject(i)->getValue<std::string>("state"), "delivered");
            EXPECT_EQ(items->getObject(i)->getValue<int>("attempts"), 1);
        }
    }
}

// Last in its suite: both instances are killed, and only A comes back for it.
TEST_F(FleetWebhookTest, EventCommittedBeforeTheFleetIsKilledIsDeliveredAfterARestart) {
    const auto [profile, users] = connectedOrganization("Webhook crash", 1);
    receiver().setMode(testsupport::WebhookReceiver::Mode::Fail);
    ASSERT_EQ(fleet().salesforce().expireRefreshTokens(), 1);
    ASSERT_EQ(brokerToken(portA(), users[0].legacyId).status, 409);
    // Committed and failing: the receiver has answered 500 to it.
    const auto failed = receiver().waitForRequests(1, 5s);
    ASSERT_EQ(failed.size(), 1u);
    const std::string eventId = failed[0].id;
    // And the failure recorded (the receiver sees the attempt before the deliverer records its 500).
    const auto recordedBy = Clock::now() + 5s;
    while (notifications(portB(), profile)->getObject(0)->getValue<int>("attempts") == 0) {
        ASSERT_LT(Clock::now(), recordedBy) << "the failed attempt was never recorded";
        std::this_thread::sleep_for(20ms);
    }

    fleet().crashB();
    fleet().restartA();  // kill -9, then the same configuration again
    receiver().setMode(testsupport::WebhookReceiver::Mode::Acknowledge);
    // The killed holder's lease ends (2 x notify.timeoutMs + 1 s after its last renewal); the new A delivers.
    const auto acknowledged = receiver().waitForAcknowledged(1, 15s);
    ASSERT_EQ(acknowledged.size(), 1u);
    EXPECT_EQ(acknowledged[0].id, eventId);
    EXPECT_EQ(acknowledged[0].type, "connection_lost");
    EXPECT_TRUE(acknowledged[0].authentic);
    Poco::JSON::Array::Ptr items;
    const auto deadline = Clock::now() + 5s;
    do {
        items = notifications(portA(), profile);
    } while (items->size() == 1 && items->getObject(0)->getValue<std::string>("state") != "delivered" &&
             Clock::now() < deadline);
    ASSERT_EQ(items->size(), 1u);
    EXPECT_EQ(items->getObject(0)->getValue<std::string>("state"), "delivered");
    EXPECT_GE(items->getObject(0)->getValue<int>("attempts"), 2);
    EXPECT_EQ(items->getObject(0)->getValue<std::string>("lastError"), "HTTP 500");
    fleet().restartB();
}

// Two instances whose wall clocks are a minute apart (B's ahead, through the test-only test.clockOffsetMs) with a
// refresh lease of 1 s, shorter than the stand-in's refreshes below: a lease on a host's clock would look expired to
// B as soon as A took it, and one not renewed would lapse while Salesforce answers.
class FleetClockSkewTest : public FleetTestBase {
protected:
    static constexpr int kLeaseMs = 1000;
    static void SetUpTestSuite() {
        startFleet(std::nullopt, {{"BRIDGE_SALESFORCE_REFRESHLEASEMS", std::to_string(kLeaseMs)}},
                   {{"BRIDGE_TEST_CLOCKOFFSETMS", "60000"}});
    }
};

TEST_F(FleetClockSkewTest, RefreshesSlowerThanTheLeaseOnClocksAMinuteApartPresentEachRefreshTokenOnce) {
    const auto [profile, users] = connectedOrganization("Skewed clocks", 4);
    fleet().salesforce().settings({.rotation = true, .refreshDelayMs = kLeaseMs * 3 / 2});
    constexpr int kRounds = 4;

    std::vector<std::string> failedAnswers;
    for (int round = 0; round < kRounds; ++round) {
        // The instances take turns at forgetting the token; then a storm on both while the refresh takes 1.5 s.
        invalidate(round % 2 == 0 ? portA() : portB(), users[0].legacyId);
        const std::vector<HttpResult> answers = testsupport::runTogether(16, [&, users = users](int i) {
            return brokerToken(i % 2 == 0 ? portA() : portB(),
                               users[static_cast<std::size_t>(i) % users.size()].legacyId);
        });
        for (const HttpResult& answer : answers) {
            if (answer.status != 200) failedAnswers.push_back("round " + std::to_string(round) + ": " + answer.body);
        }
    }

    EXPECT_GE(fleet().salesforce().counter("refreshCalls"), 1);
    EXPECT_EQ(fleet().salesforce().counter("maxPresentationsPerRefreshToken"), 1);
    EXPECT_EQ(fleet().salesforce().counter("maxConcurrentRefreshesPerToken"), 1);
    EXPECT_EQ(fleet().salesforce().counter("retiredTokenPresented"), 0);
    EXPECT_EQ(failedAnswers, std::vector<std::string>{});
    const std::vector<std::string> types = eventTypes(portB(), profile);
    EXPECT_EQ(countOf(types, "lost"), 0);
    EXPECT_EQ(countOf(types, "refresh_token_rotated"), fleet().salesforce().counter("refreshCalls"));
    const HttpResult connectivity =
        httpCall(portA(), "GET", "/api/v2/profiles/" + profile.id + "/connectivity", signedToken("support"));
    EXPECT_EQ(connectivity.json()->getObject("crm")->getValue<std::string>("status"), "Connected");
}

// Two instances with a 1 s lease and a 1 s store.timeout, each with a recovery file of its own.
class FleetRecoveryTest : public FleetTestBase {
protected:
    static std::string recoveryFileOf(const std::string& instance) {
        return (std::filesystem::temp_directory_path() /
                ("fleet-recovery-" + std::to_string(::getpid()) + "-" + instance + ".jsonl"))
            .string();
    }
    static void SetUpTestSuite() {
        for (const std::string instance : {"a", "b"}) std::filesystem::remove(recoveryFileOf(instance));
        startFleet(std::nullopt,
                   {{"BRIDGE_SALESFORCE_REFRESHLEASEMS", "1000"},
                    {"BRIDGE_STORE_TIMEOUT", "1"},
                    {"BRIDGE_SALESFORCE_REFRESHRECOVERYFILE", recoveryFileOf("a")}},
                   {{"BRIDGE_SALESFORCE_REFRESHRECOVERYFILE", recoveryFileOf("b")}});
    }
    static void TearDownTestSuite() {
        FleetTestBase::TearDownTestSuite();
        for (const std::string instance : {"a", "b"}) {
            std::filesystem::remove(recoveryFileOf(instance));
            std::filesystem::remove(recoveryFileOf(instance) + ".lock");
        }
    }
};

// MariaDB freezes (SIGSTOP) while Salesforce answers a rotated refresh token, and stays frozen past the lease: A
// keeps the token in its recovery file and answers 503. Restarted after the thaw, A writes it into the store, and
// the next refresh (on B) presents it: Salesforce never sees the retired token and the connection lives.
TEST_F(FleetRecoveryTest, RotatedTokenOfAFrozenDatabaseIsKeptAndTheNextStartReappliesIt) {
    const auto [profile, users] = connectedOrganization("Recovery", 1);
    fleet().salesforce().settings({.rotation = true, .refreshDelayMs = 800});

    auto request =
        std::async(std::launch::async, [userId = users[0].legacyId] { return brokerToken(portA(), userId); });
    const auto refreshStartedBy = Clock::now() + 5s;
    while (fleet().salesforce().counter("refreshCalls") == 0) {
        ASSERT_LT(Clock::now(), refreshStartedBy) << "A never started its refresh";
        std::this_thread::sleep_for(10ms);
    }
    fleet().database().freeze();
    ASSERT_EQ(request.wait_for(20s), std::future_status::ready);
    const HttpResult refused = request.get();
    std::this_thread::sleep_for(500ms);  // the release under way when A answered fails on its own too
    fleet().database().thaw();
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_EQ(refused.json()->getValue<std::string>("code"), "STORE_UNAVAILABLE");

    std::string kept;
    {
        std::ifstream file(recoveryFileOf("a"));
        ASSERT_TRUE(std::getline(file, kept)) << "nothing kept";
    }
    EXPECT_NE(kept.find("\"orgId\":" + std::to_string(profile.legacyOrgId)), std::string::npos) << kept;
    EXPECT_EQ(std::filesystem::status(recoveryFileOf("a")).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    EXPECT_NE(fleet().instanceA().output().find("kept sealed in " + recoveryFileOf("a")), std::string::npos);

    fleet().restartA();
    EXPECT_NE(fleet().instanceA().output().find("re-applied 1 rotated refresh token"), std::string::npos)
        << fleet().instanceA().output();
    EXPECT_EQ(std::filesystem::file_size(recoveryFileOf("a")), 0u);

    const HttpResult next = brokerToken(portB(), users[0].legacyId);
    ASSERT_EQ(next.status, 200) << next.body;
    EXPECT_EQ(fleet().salesforce().counter("refreshCalls"), 2);
    EXPECT_EQ(fleet().salesforce().counter("retiredTokenPresented"), 0);
    EXPECT_EQ(fleet().salesforce().counter("maxPresentationsPerRefreshToken"), 1);
    const HttpResult connectivity =
        httpCall(portA(), "GET", "/api/v2/profiles/" + profile.id + "/connectivity", signedToken("support"));
    EXPECT_EQ(connectivity.json()->getObject("crm")->getValue<std::string>("status"), "Connected");
}

// Two instances that look for idle connections every half second and refresh one idle for 2 s.
class FleetKeepAliveTest : public FleetTestBase {
protected:
    static constexpr int kKeepAliveSeconds = 2;
    static void SetUpTestSuite() { startFleet(kKeepAliveSeconds); }
};

TEST_F(FleetKeepAliveTest, IdleConnectionIsRefreshedOncePerIntervalByTheWholeFleet) {
    fleet().salesforce().settings({.rotation = true});
    const auto [profile, users] = connectedOrganization("Idle", 1);

    // When the stand-in saw each refresh, sampled often enough to tell two refreshes of one round apart.
    constexpr std::size_t kRefreshesToWatch = 3;
    std::vector<Clock::time_point> refreshedAt;
    std::int64_t seen = 0;
    const auto deadline = Clock::now() + 15s;
    while (refreshedAt.size() < kRefreshesToWatch && Clock::now() < deadline) {
        const std::int64_t refreshes = fleet().salesforce().counter("refreshCalls");
        ASSERT_LE(refreshes - seen, 1) << "two refreshes within 50 ms: more than one instance refreshed";
        if (refreshes > seen) refreshedAt.push_back(Clock::now());
        seen = refreshes;
        std::this_thread::sleep_for(50ms);
    }

    ASSERT_EQ(refreshedAt.size(), kRefreshesToWatch);
    for (std::size_t i = 1; i < refreshedAt.size(); ++i) {
        EXPECT_GE(refreshedAt[i] - refreshedAt[i - 1], std::chrono::seconds(kKeepAliveSeconds) - 100ms);
    }
    EXPECT_EQ(fleet().salesforce().counter("retiredTokenPresented"), 0);
    // Well before the next round: the token the last keep-alive stored serves both instances, without a refresh.
    std::this_thread::sleep_for(300ms);
    const HttpResult onA = brokerToken(portA(), users[0].legacyId);
    const HttpResult onB = brokerToken(portB(), users[0].legacyId);
    ASSERT_EQ(onA.status, 200) << onA.body;
    ASSERT_EQ(onB.status, 200) << onB.body;
    EXPECT_EQ(accessTokenOf(onA), accessTokenOf(onB));
    EXPECT_EQ(fleet().salesforce().counter("refreshCalls"), static_cast<std::int64_t>(kRefreshesToWatch));
}

}  // namespace
}  // namespace bridge::testing
