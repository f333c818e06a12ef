// The token broker (API.md "Token broker") over HTTP against the Salesforce stand-in: every answer of its table,
// the shared access token's reuse and single flight (in one process, and across two `bridge serve` processes on one
// SQLite store), refresh-token rotation, transient and permanent refusals (SALESFORCE.md) with what both panels show
// afterwards, recovery by a fresh login or a disconnect, and the background keep-alive of idle connections.
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/File.h>
#include <Poco/JSON/Array.h>
#include <Poco/TemporaryFile.h>
#include <Poco/URI.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ServerHarness.h"
#include "bridge/crypto/Secrets.h"
#include "bridge/crypto/TokenAuthority.h"
#include "bridge/store/PublicIds.h"
#include "testsupport/ChildProcess.h"
#include "testsupport/RunTogether.h"
#include "testsupport/ServeProcess.h"
#include "testsupport/StandinProcess.h"

namespace bridge::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testsupport::ChildProcess;
using testsupport::ServeProcess;
using testsupport::StandinFault;
using testsupport::StandinIdentity;
using testsupport::StandinProcess;

const std::string kAccessTokenPath = "/internal/v1/salesforce/access-token";
const std::string kInvalidatePath = kAccessTokenPath + "/invalidate";
const std::string kLossReason = "invalid_grant: expired access/refresh token";
const std::string kEstablishedMessage = "Salesforce connection established successfully";
const std::string kLostMessage = "Salesforce connectivity was lost. Do you want to re-establish it?";
const std::string kNotConnectedMessage = "Salesforce connection is not established";

// The Salesforce service account of an organization, of its own so that no two tests share a Salesforce user.
StandinIdentity serviceAccountOf(std::int64_t orgId) {
    const std::string digits = std::to_string(orgId);
    const std::string padded = std::string(12 - digits.size(), '0') + digits;
    return {.userId = "005" + padded,
            .organizationId = "00D" + padded,
            .username = "svc-" + digits + "@broker.example",
            .email = "svc-" + digits + "@broker.example"};
}

std::string forLegacyUser(std::int64_t legacyUserId, const std::string& client = "sync") {
    return R"({"legacyUserId": )" + std::to_string(legacyUserId) + R"(, "client": ")" + client + R"("})";
}

std::string forUser(const std::string& userId, const std::string& client = "sync") {
    return R"({"userId": ")" + userId + R"(", "client": ")" + client + R"("})";
}

std::string accessTokenOf(const HttpResult& answer) { return answer.json()->getValue<std::string>("accessToken"); }

// Checks an RFC 9457 answer of the broker; returns its body for further checks.
Poco::JSON::Object::Ptr expectProblem(const HttpResult& answer, int status, const std::string& code) {
    EXPECT_EQ(answer.status, status) << answer.body;
    EXPECT_EQ(answer.header("Content-Type").rfind("application/problem+json", 0), 0u) << answer.header("Content-Type");
    const Poco::JSON::Object::Ptr problem = answer.json();
    EXPECT_EQ(problem->getValue<int>("status"), status) << answer.body;
    EXPECT_EQ(problem->getValue<std::string>("code"), code) << answer.body;
    return problem;
}

void expectNull(const Poco::JSON::Object::Ptr& object, const std::string& key) {
    EXPECT_TRUE(object->has(key) && object->isNull(key)) << key;
}

std::vector<std::string> stringsOf(const Poco::JSON::Array::Ptr& array) {
    std::vector<std::string> strings;
    for (std::size_t i = 0; i < array->size(); ++i) strings.push_back(array->getElement<std::string>(i));
    return strings;
}

std::int64_t secondsSinceEpoch(const std::string& format, const std::string& text) {
    int timeZoneDifferential = 0;
    return Poco::DateTimeParser::parse(format, text, timeZoneDifferential).timestamp().epochTime();
}

std::int64_t nowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The access tokens of answers that must all be 200.
std::set<std::string> grantedTokens(const std::vector<HttpResult>& answers) {
    std::set<std::string> tokens;
    for (const HttpResult& answer : answers) {
        EXPECT_EQ(answer.status, 200) << answer.body;
        if (answer.status == 200) tokens.insert(accessTokenOf(answer));
    }
    return tokens;
}

// A whole server in-process per suite (ctest runs every test in a process of its own), with helpers for both panels
// and the broker. Every answer of a panel or the callback is kept, and none may carry a token (TearDown).
class BrokerHttpTest : public ::testing::Test {
protected:
    static void startServer(ServerHarness::Options options) { server_ = new ServerHarness(std::move(options)); }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    static ServerHarness& server() { return *server_; }

    // Each test starts from the stand-in's defaults: approving, no faults, no rotation, no delay, counters at 0.
    void SetUp() override {
        server().salesforce().reset();
        support_ = server().supportToken();
        syncEngine_ = server().syncEngineToken();
    }

    // API.md "Never": no response but the broker's carries an access or refresh token.
    void TearDown() override {
        const std::regex tokenLike("00D[0-9A-Za-z]{12}!|5Aep");
        for (const std::string& answer : panelAnswers_) {
            EXPECT_FALSE(std::regex_search(answer, tokenLike)) << answer;
            for (const std::string& token : handedOutTokens_) {
                EXPECT_EQ(answer.find(token), std::string::npos) << "the broker's token in " << answer;
            }
        }
    }

    // An organization with `users` active users, legacy ids orgId * 10 on.
    static void seed(std::int64_t orgId, int users) {
        server().seedOrganization(orgId, "Organization " + std::to_string(orgId), users, orgId * 10);
    }
    static std::int64_t userOf(std::int64_t orgId, int index) { return orgId * 10 + index; }
    static std::string profilePath(std::int64_t orgId) { return "/api/v2/profiles/" + profileIdFor(orgId); }
    static std::string legacyPath(std::int64_t orgId) { return "/legacy/api/organizations/" + std::to_string(orgId); }

    // A panel or callback request; its answer is checked by TearDown.
    HttpResult call(const std::string& method, const std::string& path, const std::string& token,
                    const std::string& body = {}) {
        HttpResult answer = server().call(method, path, token, body);
        std::lock_guard lock(mutex_);
        panelAnswers_.push_back(answer.body + "\n" + answer.header("Location"));
        return answer;
    }
    std::string orgAdmin(std::int64_t orgId) const { return server().orgAdminToken({orgId}); }

    // POST /internal/v1/salesforce/access-token as the sync engine; thread-safe.
    HttpResult requestToken(const std::string& body) {
        HttpResult answer = server().call("POST", kAccessTokenPath, syncEngine_, body);
        if (answer.status == 200) {
            const std::string token = accessTokenOf(answer);
            std::lock_guard lock(mutex_);
            handedOutTokens_.insert(token);
        }
        return answer;
    }
    void invalidate(std::int64_t legacyUserId) {
        const HttpResult answer = server().call("POST", kInvalidatePath, syncEngine_,
                                                R"({"legacyUserId": )" + std::to_string(legacyUserId) + "}");
        EXPECT_EQ(answer.status, 204) << answer.body;
        EXPECT_TRUE(answer.body.empty()) << answer.body;
    }

    // "Log in with Salesforce" through the new panel as the organization's service account.
    void connect(std::int64_t orgId) {
        server().salesforce().setIdentity(serviceAccountOf(orgId));
        logInAtSalesforce(call("POST", profilePath(orgId) + "/connectivity/crm/login", support_));
    }
    // The new panel's *Refresh*: a fresh login in the environment of the last connection.
    void logInAgain(std::int64_t orgId) {
        logInAtSalesforce(call("POST", profilePath(orgId) + "/connectivity/crm/refresh", support_));
    }
    // The admin's browser: logs in at the stand-in with the login URL a panel answered, then brings the callback.
    void logInAtSalesforce(const HttpResult& started) {
        ASSERT_EQ(started.status, 200) << started.body;
        const std::string salesforceRedirect =
            server().salesforce().followAuthorization(started.json()->getValue<std::string>("authorizationUrl"));
        const HttpResult finished = call("GET", Poco::URI(salesforceRedirect).getPathAndQuery(), "");
        ASSERT_EQ(finished.status, 302) << finished.body;
        ASSERT_EQ(finished.header("Location"), server().config().panel.modernReturnUrl + "?connectivity=connected");
    }
    // Salesforce expires the service account's refresh token; the sync engine's next request finds out.
    HttpResult loseConnection(std::int64_t legacyUserId) {
        EXPECT_EQ(server().salesforce().expireRefreshTokens(), 1);
        invalidate(legacyUserId);
        return requestToken(forLegacyUser(legacyUserId));
    }
    void deactivate(std::int64_t legacyUserId, std::int64_t orgId) {
        const HttpResult changed =
            call("PATCH", profilePath(orgId) + "/users/" + userIdFor(legacyUserId), support_, R"({"active": false})");
        ASSERT_EQ(changed.status, 200) << changed.body;
    }

    Poco::JSON::Object::Ptr legacyConnectivity(std::int64_t orgId) {
        const HttpResult answer = call("GET", legacyPath(orgId) + "/salesforce-connectivity", orgAdmin(orgId));
        EXPECT_EQ(answer.status, 200) << answer.body;
        return answer.json()->getObject("data");
    }
    // The legacy users list, by legacy id.
    std::map<std::int64_t, Poco::JSON::Object::Ptr> legacyUsers(std::int64_t orgId) {
        const HttpResult answer = call("GET", legacyPath(orgId) + "/users?offset=0&limit=500", orgAdmin(orgId));
        EXPECT_EQ(answer.status, 200) << answer.body;
        std::map<std::int64_t, Poco::JSON::Object::Ptr> users;
        const auto listed = answer.json()->getObject("data")->getArray("users");
        for (std::size_t i = 0; i < listed->size(); ++i) {
            users[listed->getObject(i)->getValue<std::int64_t>("id")] = listed->getObject(i);
        }
        return users;
    }
    Poco::JSON::Object::Ptr legacyUser(std::int64_t orgId, std::int64_t legacyUserId) {
        const HttpResult answer =
            call("GET", legacyPath(orgId) + "/users/" + std::to_string(legacyUserId), orgAdmin(orgId));
        EXPECT_EQ(answer.status, 200) << answer.body;
        return answer.json()->getObject("data");
    }
    Poco::JSON::Object::Ptr crm(std::int64_t orgId) {
        const HttpResult answer = call("GET", profilePath(orgId) + "/connectivity", support_);
        EXPECT_EQ(answer.status, 200) << answer.body;
        return answer.json()->getObject("crm");
    }
    // The new panel's users' `synchronization`, by legacy id.
    std::map<std::int64_t, Poco::JSON::Object::Ptr> synchronizations(std::int64_t orgId) {
        const HttpResult answer = call("GET", profilePath(orgId) + "/users?limit=500", support_);
        EXPECT_EQ(answer.status, 200) << answer.body;
        std::map<std::int64_t, Poco::JSON::Object::Ptr> byUser;
        const auto items = answer.json()->getArray("items");
        for (std::size_t i = 0; i < items->size(); ++i) {
            byUser[items->getObject(i)->getValue<std::int64_t>("legacyUserId")] =
                items->getObject(i)->getObject("synchronization");
        }
        return byUser;
    }
    // The connection's events of one type, newest first.
    std::vector<Poco::JSON::Object::Ptr> events(std::int64_t orgId, const std::string& type) {
        const HttpResult answer = call("GET", profilePath(orgId) + "/connectivity/events?limit=500", support_);
        EXPECT_EQ(answer.status, 200) << answer.body;
        std::vector<Poco::JSON::Object::Ptr> found;
        const auto items = answer.json()->getArray("items");
        for (std::size_t i = 0; i < items->size(); ++i) {
            if (items->getObject(i)->getValue<std::string>("type") == type) found.push_back(items->getObject(i));
        }
        return found;
    }

    // Both panels: the connection established, no user suspended, no loss recorded.
    void expectConnectedWithNobodySuspended(std::int64_t orgId) {
        const auto legacy = legacyConnectivity(orgId);
        EXPECT_EQ(legacy->getValue<std::string>("connectionStatus"), "Established");
        EXPECT_EQ(legacy->getValue<std::string>("statusMessage"), kEstablishedMessage);
        expectNull(legacy, "lostDialog");
        const auto modern = crm(orgId);
        EXPECT_EQ(modern->getValue<std::string>("status"), "Connected");
        expectNull(modern, "lastError");
        expectNobodySuspended(orgId);
    }
    void expectNobodySuspended(std::int64_t orgId) {
        for (const auto& [legacyUserId, user] : legacyUsers(orgId)) {
            EXPECT_FALSE(user->getValue<bool>("syncSuspended")) << legacyUserId;
            expectNull(user, "highlight");
            expectNull(legacyUser(orgId, legacyUserId), "notification");
        }
        for (const auto& [legacyUserId, synchronization] : synchronizations(orgId)) {
            EXPECT_EQ(synchronization->getValue<std::string>("status"), "Enabled") << legacyUserId;
            expectNull(synchronization, "reason");
        }
    }

    static std::int64_t counter(const std::string& name) { return server().salesforce().counter(name); }
    // Refreshes the stand-in saw for the organization's service account.
    static std::int64_t refreshCallsOf(std::int64_t orgId) {
        const auto byOrganization = server().salesforce().counters()->getObject("refreshCallsByOrganization");
        for (const auto& [organizationId, count] : *byOrganization) {
            if (organizationId.rfind(*serviceAccountOf(orgId).organizationId, 0) == 0)
                return count.convert<std::int64_t>();
        }
        return 0;
    }

    std::string support_;
    std::string syncEngine_;

private:
    static inline ServerHarness* server_ = nullptr;
    std::mutex mutex_;
    std::vector<std::string> panelAnswers_;
    std::set<std::string> handedOutTokens_;
};

// The default server: a 2 s Salesforce timeout, keep-alive at its default (24 h), so nothing refreshes on its own.
class BrokerTest : public BrokerHttpTest {
protected:
    static void SetUpTestSuite() { startServer({}); }
};

// --- what a granted token looks like, and its reuse ---

TEST_F(BrokerTest, GrantsTheServiceAccountsTokenForAboutTheConfiguredLifetime) {
    constexpr std::int64_t kOrg = 4101;
    seed(kOrg, 2);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));

    const std::int64_t requestedAt = nowSeconds();
    const HttpResult granted = requestToken(forLegacyUser(userOf(kOrg, 0)));
    ASSERT_EQ(granted.status, 200) << granted.body;
    EXPECT_EQ(granted.header("Content-Type").rfind("application/json", 0), 0u);
    EXPECT_EQ(granted.header("Cache-Control"), "no-store");
    const auto body = granted.json();
    EXPECT_TRUE(std::regex_match(body->getValue<std::string>("accessToken"), std::regex("00D[0-9A-Za-z]{12}!.+")));
    EXPECT_EQ(body->getValue<std::string>("instanceUrl"), server().salesforce().baseUrl());
    const std::string serviceAccountUserId = body->getValue<std::string>("serviceAccountUserId");
    EXPECT_EQ(serviceAccountUserId.size(), 18u);
    EXPECT_EQ(serviceAccountUserId.rfind(*serviceAccountOf(kOrg).userId, 0), 0u) << serviceAccountUserId;
    EXPECT_EQ(serviceAccountUserId, crm(kOrg)->getObject("serviceAccount")->getValue<std::string>("userId"));

    const std::string expiresAt = body->getValue<std::string>("expiresAt");
    ASSERT_TRUE(std::regex_match(expiresAt, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"))) << expiresAt;
    const std::int64_t ttl = server().config().salesforce.accessTokenTtl.count();
    const std::int64_t expiresAtSeconds = secondsSinceEpoch(Poco::DateTimeFormat::ISO8601_FORMAT, expiresAt);
    EXPECT_GE(expiresAtSeconds, requestedAt + ttl - 2);
    EXPECT_LE(expiresAtSeconds, nowSeconds() + ttl + 2);
    EXPECT_EQ(counter("refreshCalls"), 1);
}

TEST_F(BrokerTest, CachedTokenServesEveryUserOfTheOrganizationByEitherIdWithoutRefreshing) {
    constexpr std::int64_t kOrg = 4102;
    seed(kOrg, 3);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    const HttpResult first = requestToken(forLegacyUser(userOf(kOrg, 0)));
    ASSERT_EQ(first.status, 200) << first.body;
    ASSERT_EQ(counter("refreshCalls"), 1);

    for (int round = 0; round < 3; ++round) {
        for (int index = 0; index < 3; ++index) {
            for (const std::string& body :
                 {forLegacyUser(userOf(kOrg, index)), forUser(userIdFor(userOf(kOrg, index)))}) {
                const HttpResult again = requestToken(body);
                ASSERT_EQ(again.status, 200) << again.body;
                EXPECT_EQ(accessTokenOf(again), accessTokenOf(first)) << body;
                EXPECT_EQ(again.json()->getValue<std::string>("expiresAt"),
                          first.json()->getValue<std::string>("expiresAt"));
            }
        }
    }
    EXPECT_EQ(counter("refreshCalls"), 1);
}

TEST_F(BrokerTest, InvalidateForgetsTheTokenSoTheNextRequestRefreshes) {
    constexpr std::int64_t kOrg = 4103;
    seed(kOrg, 2);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    const HttpResult first = requestToken(forLegacyUser(userOf(kOrg, 0)));
    ASSERT_EQ(first.status, 200) << first.body;

    // Reported bad for one user: the whole organization's shared token is gone.
    invalidate(userOf(kOrg, 1));
    const HttpResult second = requestToken(forLegacyUser(userOf(kOrg, 0)));
    ASSERT_EQ(second.status, 200) << second.body;
    EXPECT_NE(accessTokenOf(second), accessTokenOf(first));
    EXPECT_EQ(counter("refreshCalls"), 2);

    const HttpResult byUserId =
        server().call("POST", kInvalidatePath, syncEngine_, R"({"userId": ")" + userIdFor(userOf(kOrg, 0)) + R"("})");
    EXPECT_EQ(byUserId.status, 204) << byUserId.body;
    const HttpResult third = requestToken(forUser(userIdFor(userOf(kOrg, 1))));
    ASSERT_EQ(third.status, 200) << third.body;
    EXPECT_NE(accessTokenOf(third), accessTokenOf(second));
    EXPECT_EQ(counter("refreshCalls"), 3);

    // The fresh one is cached like the first.
    const HttpResult cached = requestToken(forLegacyUser(userOf(kOrg, 0)));
    ASSERT_EQ(cached.status, 200) << cached.body;
    EXPECT_EQ(accessTokenOf(cached), accessTokenOf(third));
    EXPECT_EQ(counter("refreshCalls"), 3);
}

TEST_F(BrokerTest, TwoHundredConcurrentRequestsOnAColdCacheCauseOneRefreshAndShareItsToken) {
    constexpr std::int64_t kOrg = 4104;
    constexpr int kUsers = 5;
    seed(kOrg, kUsers);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    // Salesforce takes a while, so that the requests arrive while the one refresh is under way.
    server().salesforce().settings({.refreshDelayMs = 300});

    const std::vector<HttpResult> answers = testsupport::runTogether(200, [&](int i) {
        const std::int64_t legacyUserId = userOf(kOrg, i % kUsers);
        return requestToken(i % 2 == 0 ? forLegacyUser(legacyUserId) : forUser(userIdFor(legacyUserId)));
    });

    EXPECT_EQ(grantedTokens(answers).size(), 1u);
    EXPECT_EQ(counter("refreshCalls"), 1);
    EXPECT_EQ(counter("maxConcurrentRefreshes"), 1);
}

TEST_F(BrokerTest, RotationForFiftyRefreshesNeverPresentsARetiredRefreshToken) {
    constexpr std::int64_t kOrg = 4105;
    constexpr int kRefreshes = 50;
    constexpr int kUsers = 4;
    seed(kOrg, kUsers);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    server().salesforce().settings({.rotation = true});

    std::set<std::string> tokens;
    for (int round = 0; round < kRefreshes; ++round) {
        invalidate(userOf(kOrg, round % kUsers));
        // Each refresh meets concurrent requests: they share it rather than present the same refresh token twice.
        const std::set<std::string> shared = grantedTokens(
            testsupport::runTogether(kUsers, [&](int i) { return requestToken(forLegacyUser(userOf(kOrg, i))); }));
        ASSERT_EQ(shared.size(), 1u) << "round " << round;
        tokens.insert(*shared.begin());
    }

    EXPECT_EQ(tokens.size(), static_cast<std::size_t>(kRefreshes));
    EXPECT_EQ(counter("refreshCalls"), kRefreshes);
    EXPECT_EQ(counter("retiredTokenPresented"), 0);
    EXPECT_EQ(events(kOrg, "refresh_token_rotated").size(), static_cast<std::size_t>(kRefreshes));
    expectConnectedWithNobodySuspended(kOrg);
}

// --- the broker's refusals (API.md, the broker's table), authentication and validation ---

TEST_F(BrokerTest, AddinClientIsRefusedWithAddinNotSupported) {
    constexpr std::int64_t kOrg = 4201;
    seed(kOrg, 1);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));

    expectProblem(requestToken(forLegacyUser(userOf(kOrg, 0), "addin")), 409, "ADDIN_NOT_SUPPORTED");
    expectProblem(requestToken(forUser(userIdFor(userOf(kOrg, 0)), "addin")), 409, "ADDIN_NOT_SUPPORTED");
    EXPECT_EQ(counter("refreshCalls"), 0);
}

TEST_F(BrokerTest, OrganizationNeverConnectedAnswersNotConnected) {
    constexpr std::int64_t kOrg = 4202;
    seed(kOrg, 1);
    expectProblem(requestToken(forLegacyUser(userOf(kOrg, 0))), 409, "NOT_CONNECTED");

    const HttpResult toggledOn = call("PUT", legacyPath(kOrg) + "/salesforce-connectivity", orgAdmin(kOrg),
                                      R"({"loginUsingServiceAccount": true})");
    ASSERT_EQ(toggledOn.status, 200) << toggledOn.body;
    expectProblem(requestToken(forUser(userIdFor(userOf(kOrg, 0)))), 409, "NOT_CONNECTED");
    EXPECT_EQ(counter("refreshCalls"), 0);
}

TEST_F(BrokerTest, LegacyToggleSwitchedOffAnswersNotConnected) {
    constexpr std::int64_t kOrg = 4203;
    seed(kOrg, 1);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    ASSERT_EQ(requestToken(forLegacyUser(userOf(kOrg, 0))).status, 200);

    const HttpResult toggledOff = call("PUT", legacyPath(kOrg) + "/salesforce-connectivity", orgAdmin(kOrg),
                                       R"({"loginUsingServiceAccount": false})");
    ASSERT_EQ(toggledOff.status, 200) << toggledOff.body;
    expectProblem(requestToken(forLegacyUser(userOf(kOrg, 0))), 409, "NOT_CONNECTED");
    EXPECT_EQ(counter("refreshCalls"), 1);
}

TEST_F(BrokerTest, InactiveUserAnswersUserInactiveWhileActiveOnesAreServed) {
    constexpr std::int64_t kOrg = 4204;
    seed(kOrg, 2);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    ASSERT_NO_FATAL_FAILURE(deactivate(userOf(kOrg, 1), kOrg));

    expectProblem(requestToken(forLegacyUser(userOf(kOrg, 1))), 403, "USER_INACTIVE");
    expectProblem(requestToken(forUser(userIdFor(userOf(kOrg, 1)))), 403, "USER_INACTIVE");
    EXPECT_EQ(requestToken(forLegacyUser(userOf(kOrg, 0))).status, 200);
}

TEST_F(BrokerTest, UnknownUserAnswersUserNotFoundByEitherId) {
    constexpr std::int64_t kOrg = 4205;
    seed(kOrg, 1);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));

    expectProblem(requestToken(forLegacyUser(userOf(kOrg, 9))), 404, "USER_NOT_FOUND");
    expectProblem(requestToken(forUser(userIdFor(userOf(kOrg, 9)))), 404, "USER_NOT_FOUND");
    expectProblem(requestToken(forUser("no-such-user")), 404, "USER_NOT_FOUND");
    expectProblem(server().call("POST", kInvalidatePath, syncEngine_, R"({"legacyUserId": 987654321})"), 404,
                  "USER_NOT_FOUND");
    EXPECT_EQ(counter("refreshCalls"), 0);
}

TEST_F(BrokerTest, OnlyASyncEngineTokenMayUseTheBroker) {
    constexpr std::int64_t kOrg = 4206;
    seed(kOrg, 1);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    const std::string body = forLegacyUser(userOf(kOrg, 0));

    for (const std::string& path : {kAccessTokenPath, kInvalidatePath}) {
        expectProblem(server().call("POST", path, "", body), 401, "UNAUTHORIZED");
        expectProblem(server().call("POST", path, "not-a-jwt", body), 401, "UNAUTHORIZED");
        expectProblem(server().call("POST", path, support_, body), 403, "FORBIDDEN");
        expectProblem(server().call("POST", path, orgAdmin(kOrg), body), 403, "FORBIDDEN");
    }
    EXPECT_EQ(counter("refreshCalls"), 0);
}

TEST_F(BrokerTest, MalformedRequestsAnswerValidationFailedNamingTheField) {
    constexpr std::int64_t kOrg = 4207;
    seed(kOrg, 1);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    const std::string legacyUserId = std::to_string(userOf(kOrg, 0));
    const std::string userId = userIdFor(userOf(kOrg, 0));

    const std::map<std::string, std::string> fieldOfBody{
        {R"({"legacyUserId": )" + legacyUserId + "}", "client"},
        {R"({"legacyUserId": )" + legacyUserId + R"(, "client": "mobile"})", "client"},
        {R"({"userId": ")" + userId + R"(", "legacyUserId": )" + legacyUserId + R"(, "client": "sync"})", "userId"},
        {R"({"client": "sync"})", "userId"},
    };
    for (const auto& [body, field] : fieldOfBody) {
        const auto problem = expectProblem(requestToken(body), 400, "VALIDATION_FAILED");
        EXPECT_EQ(problem->getValue<std::string>("field"), field) << body;
    }
    expectProblem(requestToken("{not json"), 400, "VALIDATION_FAILED");
    expectProblem(server().call("POST", kInvalidatePath, syncEngine_,
                                R"({"userId": ")" + userId + R"(", "legacyUserId": )" + legacyUserId + "}"),
                  400, "VALIDATION_FAILED");
    EXPECT_EQ(counter("refreshCalls"), 0);
}

// --- a permanent refusal: the connection is lost, users suspended, both panels show it ---

TEST_F(BrokerTest, InvalidGrantLosesTheConnectionSuspendsActiveUsersAndBothPanelsShowIt) {
    constexpr std::int64_t kOrg = 4301;
    constexpr int kUsers = 4;
    const std::int64_t inactiveUser = userOf(kOrg, 3);
    seed(kOrg, kUsers);
    ASSERT_NO_FATAL_FAILURE(deactivate(inactiveUser, kOrg));
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    ASSERT_EQ(requestToken(forLegacyUser(userOf(kOrg, 0))).status, 200);

    const std::int64_t lostAt = nowSeconds();
    const HttpResult refused = loseConnection(userOf(kOrg, 0));
    EXPECT_EQ(expectProblem(refused, 409, "SYNC_SUSPENDED")->getValue<std::string>("detail"), kLossReason);
    // Every active user is refused alike from now on, without asking Salesforce again.
    const std::int64_t refreshes = counter("refreshCalls");
    for (int index = 0; index < 3; ++index) {
        const auto problem =
            expectProblem(requestToken(forUser(userIdFor(userOf(kOrg, index)))), 409, "SYNC_SUSPENDED");
        EXPECT_EQ(problem->getValue<std::string>("detail"), kLossReason);
    }
    EXPECT_EQ(counter("refreshCalls"), refreshes);

    const auto legacy = legacyConnectivity(kOrg);
    EXPECT_EQ(legacy->getValue<std::string>("connectionStatus"), "Lost");
    EXPECT_EQ(legacy->getValue<std::string>("statusMessage"), kLostMessage);
    const auto dialog = legacy->getObject("lostDialog");
    ASSERT_TRUE(dialog);
    EXPECT_EQ(dialog->getValue<std::string>("message"), kLostMessage);
    EXPECT_EQ(dialog->getValue<std::string>("reason"), kLossReason);
    const std::string since = dialog->getValue<std::string>("since");
    ASSERT_TRUE(std::regex_match(since, std::regex(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"))) << since;
    EXPECT_GE(secondsSinceEpoch("%Y-%m-%d %H:%M:%S", since), lostAt - 1);
    EXPECT_LE(secondsSinceEpoch("%Y-%m-%d %H:%M:%S", since), nowSeconds());

    const auto legacyList = legacyUsers(kOrg);
    ASSERT_EQ(legacyList.size(), static_cast<std::size_t>(kUsers));
    for (const auto& [legacyUserId, user] : legacyList) {
        if (legacyUserId == inactiveUser) {
            EXPECT_FALSE(user->getValue<bool>("syncSuspended"));
            expectNull(user, "highlight");
        } else {
            EXPECT_TRUE(user->getValue<bool>("syncSuspended")) << legacyUserId;
            EXPECT_EQ(user->getValue<std::string>("highlight"), "red") << legacyUserId;
        }
    }
    EXPECT_EQ(legacyUser(kOrg, userOf(kOrg, 1))->getValue<std::string>("notification"), kLossReason);
    expectNull(legacyUser(kOrg, inactiveUser), "notification");

    const auto modern = crm(kOrg);
    EXPECT_EQ(modern->getValue<std::string>("status"), "Disconnected");
    EXPECT_EQ(modern->getValue<std::string>("lastError"), kLossReason);
    EXPECT_EQ(stringsOf(modern->getArray("actions")), (std::vector<std::string>{"refresh", "disconnect"}));
    const auto modernList = synchronizations(kOrg);
    ASSERT_EQ(modernList.size(), static_cast<std::size_t>(kUsers));
    for (const auto& [legacyUserId, synchronization] : modernList) {
        if (legacyUserId == inactiveUser) {
            EXPECT_EQ(synchronization->getValue<std::string>("status"), "Enabled");
            expectNull(synchronization, "reason");
        } else {
            EXPECT_EQ(synchronization->getValue<std::string>("status"), "Disabled") << legacyUserId;
            EXPECT_EQ(synchronization->getValue<std::string>("reason"), kLossReason) << legacyUserId;
        }
    }

    const auto losses = events(kOrg, "lost");
    ASSERT_EQ(losses.size(), 1u);
    EXPECT_EQ(losses[0]->getValue<std::string>("detail"), kLossReason);
}

TEST_F(BrokerTest, FreshLoginThroughTheNewPanelRecoversTheUsersAndTheBroker) {
    constexpr std::int64_t kOrg = 4302;
    seed(kOrg, 3);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    const HttpResult before = requestToken(forLegacyUser(userOf(kOrg, 0)));
    ASSERT_EQ(before.status, 200) << before.body;
    ASSERT_EQ(loseConnection(userOf(kOrg, 0)).status, 409);
    const std::int64_t refreshes = counter("refreshCalls");

    ASSERT_NO_FATAL_FAILURE(logInAgain(kOrg));

    expectConnectedWithNobodySuspended(kOrg);
    EXPECT_EQ(stringsOf(crm(kOrg)->getArray("actions")), (std::vector<std::string>{"refresh", "disconnect"}));
    const HttpResult after = requestToken(forUser(userIdFor(userOf(kOrg, 1))));
    ASSERT_EQ(after.status, 200) << after.body;
    EXPECT_NE(accessTokenOf(after), accessTokenOf(before));
    EXPECT_EQ(counter("refreshCalls"), refreshes + 1);
    EXPECT_EQ(requestToken(forLegacyUser(userOf(kOrg, 2))).status, 200);
    EXPECT_EQ(events(kOrg, "lost").size(), 1u);
    EXPECT_EQ(events(kOrg, "connected").size(), 2u);
}

TEST_F(BrokerTest, DisconnectAfterALossLiftsTheSuspensionsAndLeavesNotConnected) {
    constexpr std::int64_t kOrg = 4303;
    seed(kOrg, 3);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    ASSERT_EQ(requestToken(forLegacyUser(userOf(kOrg, 0))).status, 200);
    ASSERT_EQ(loseConnection(userOf(kOrg, 0)).status, 409);

    const HttpResult disconnected = call("DELETE", profilePath(kOrg) + "/connectivity/crm", support_);
    ASSERT_EQ(disconnected.status, 204) << disconnected.body;

    const auto legacy = legacyConnectivity(kOrg);
    EXPECT_EQ(legacy->getValue<std::string>("connectionStatus"), "NotConnected");
    EXPECT_EQ(legacy->getValue<std::string>("statusMessage"), kNotConnectedMessage);
    expectNull(legacy, "lostDialog");
    const auto modern = crm(kOrg);
    EXPECT_EQ(modern->getValue<std::string>("status"), "NotConnected");
    expectNull(modern, "lastError");
    EXPECT_EQ(stringsOf(modern->getArray("actions")), std::vector<std::string>{"login"});
    expectNobodySuspended(kOrg);
    expectProblem(requestToken(forLegacyUser(userOf(kOrg, 1))), 409, "NOT_CONNECTED");
}

// --- transient failures: 503, and the connection stays as it was ---

struct TransientFailure {
    std::string name;
    std::int64_t orgId = 0;  // one per failure, as the failures share the suite's server
    StandinFault fault;
};

// Names the failure in test names and messages, rather than dumping its bytes.
void PrintTo(const TransientFailure& failure, std::ostream* out) { *out << failure.name; }

class BrokerTransientFailureTest : public BrokerTest, public ::testing::WithParamInterface<TransientFailure> {};

TEST_P(BrokerTransientFailureTest, AnswersSalesforceUnavailableAndLeavesTheConnectionConnected) {
    const std::int64_t kOrg = GetParam().orgId;
    seed(kOrg, 2);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    server().salesforce().injectFault(GetParam().fault);

    expectProblem(requestToken(forLegacyUser(userOf(kOrg, 0))), 503, "SALESFORCE_UNAVAILABLE");
    EXPECT_EQ(counter("refreshCalls"), 1);
    expectConnectedWithNobodySuspended(kOrg);
    EXPECT_TRUE(events(kOrg, "lost").empty());

    // Nothing was changed, so the next request refreshes with the same refresh token and is served.
    const HttpResult retried = requestToken(forLegacyUser(userOf(kOrg, 1)));
    EXPECT_EQ(retried.status, 200) << retried.body;
    EXPECT_EQ(counter("refreshCalls"), 2);
}

INSTANTIATE_TEST_SUITE_P(
    Salesforce, BrokerTransientFailureTest,
    ::testing::Values(
        TransientFailure{"InternalServerError", 4401, {.kind = "status500", .grant = "refresh_token"}},
        TransientFailure{"ServiceUnavailable", 4402, {.kind = "status500", .grant = "refresh_token", .status = 503}},
        TransientFailure{"BodyThatIsNotJson", 4403, {.kind = "nonJson", .grant = "refresh_token"}},
        TransientFailure{"DroppedConnection", 4404, {.kind = "drop", .grant = "refresh_token"}},
        TransientFailure{"RefreshAlreadyBeingProcessed", 4405, {.kind = "processing", .grant = "refresh_token"}}),
    [](const ::testing::TestParamInfo<TransientFailure>& info) { return info.param.name; });

TEST_F(BrokerTest, InvalidGrantNotInTheTableIsRetriedOnceAndServedWhenTheSecondTrySucceeds) {
    constexpr std::int64_t kOrg = 4410;
    seed(kOrg, 1);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    server().salesforce().injectFault(
        {.kind = "invalidGrant", .grant = "refresh_token", .description = "ip restricted or invalid login hours"});

    EXPECT_EQ(requestToken(forLegacyUser(userOf(kOrg, 0))).status, 200);
    EXPECT_EQ(counter("refreshCalls"), 2);
    expectConnectedWithNobodySuspended(kOrg);
}

// --- every permanent refusal of SALESFORCE.md loses the connection with Salesforce's reason ---

struct PermanentRefusal {
    std::string name;
    std::int64_t orgId = 0;  // one per refusal, as the refusals share the suite's server
    StandinFault fault;
    std::string reason;
};

void PrintTo(const PermanentRefusal& refusal, std::ostream* out) { *out << refusal.name; }

class BrokerPermanentRefusalTest : public BrokerTest, public ::testing::WithParamInterface<PermanentRefusal> {};

TEST_P(BrokerPermanentRefusalTest, LosesTheConnectionWithSalesforcesReason) {
    const std::int64_t kOrg = GetParam().orgId;
    seed(kOrg, 2);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    server().salesforce().injectFault(GetParam().fault);

    const auto problem = expectProblem(requestToken(forLegacyUser(userOf(kOrg, 0))), 409, "SYNC_SUSPENDED");
    EXPECT_EQ(problem->getValue<std::string>("detail"), GetParam().reason);
    EXPECT_EQ(crm(kOrg)->getValue<std::string>("lastError"), GetParam().reason);
    EXPECT_EQ(legacyConnectivity(kOrg)->getObject("lostDialog")->getValue<std::string>("reason"), GetParam().reason);
    for (const auto& [legacyUserId, synchronization] : synchronizations(kOrg)) {
        EXPECT_EQ(synchronization->getValue<std::string>("reason"), GetParam().reason) << legacyUserId;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Salesforce, BrokerPermanentRefusalTest,
    ::testing::Values(
        PermanentRefusal{"AuthenticationFailure",
                         4501,
                         {.kind = "invalidGrant", .grant = "refresh_token", .description = "authentication failure"},
                         "invalid_grant: authentication failure"},
        PermanentRefusal{"InactiveServiceAccount",
                         4502,
                         {.kind = "invalidGrant", .grant = "refresh_token", .description = "inactive user"},
                         "invalid_grant: inactive user"},
        PermanentRefusal{"InvalidClient",
                         4503,
                         {.kind = "invalidClient", .grant = "refresh_token"},
                         "invalid_client: invalid client credentials"},
        PermanentRefusal{"UnlistedInvalidGrantTwice",
                         4504,
                         {.kind = "invalidGrant",
                          .count = 2,
                          .grant = "refresh_token",
                          .description = "ip restricted or invalid login hours"},
                         "invalid_grant: ip restricted or invalid login hours"}),
    [](const ::testing::TestParamInfo<PermanentRefusal>& info) { return info.param.name; });

// --- a hanging Salesforce, with the timeout shortened ---

class BrokerTimeoutTest : public BrokerHttpTest {
protected:
    static constexpr auto kSalesforceTimeout = 800ms;
    static void SetUpTestSuite() {
        ServerHarness::Options options;
        options.salesforceTimeoutMs = static_cast<int>(kSalesforceTimeout.count());
        startServer(options);
    }
};

TEST_F(BrokerTimeoutTest, HangingSalesforceAnswers503WithinTheTimeoutAndLeavesTheConnectionConnected) {
    constexpr std::int64_t kOrg = 4601;
    seed(kOrg, 2);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    server().salesforce().injectFault({.kind = "hang", .grant = "refresh_token", .hangMs = 5000});

    // Requests arriving while Salesforce hangs wait for the one refresh under way, and no longer than it.
    constexpr int kRequests = 10;
    std::vector<Clock::duration> took(kRequests);
    const std::vector<HttpResult> answers = testsupport::runTogether(kRequests, [&](int i) {
        const auto started = Clock::now();
        HttpResult answer = requestToken(forLegacyUser(userOf(kOrg, i % 2)));
        took[static_cast<std::size_t>(i)] = Clock::now() - started;
        return answer;
    });

    for (int i = 0; i < kRequests; ++i) {
        expectProblem(answers[static_cast<std::size_t>(i)], 503, "SALESFORCE_UNAVAILABLE");
        EXPECT_LT(took[static_cast<std::size_t>(i)], kSalesforceTimeout + 1s) << "request " << i;
    }
    EXPECT_GE(*std::max_element(took.begin(), took.end()), kSalesforceTimeout - 100ms);
    EXPECT_EQ(counter("refreshCalls"), 1);
    expectConnectedWithNobodySuspended(kOrg);
    EXPECT_TRUE(events(kOrg, "lost").empty());
    const HttpResult retried = requestToken(forLegacyUser(userOf(kOrg, 1)));
    EXPECT_EQ(retried.status, 200) << retried.body;
}

// --- keep-alive, with the interval shortened to two seconds ---

class BrokerKeepAliveTest : public BrokerHttpTest {
protected:
    static constexpr auto kKeepAlive = 2s;
    static void SetUpTestSuite() {
        ServerHarness::Options options;
        options.keepAliveSeconds = static_cast<int>(kKeepAlive.count());
        startServer(options);
    }
};

TEST_F(BrokerKeepAliveTest, IdleConnectionIsRefreshedInTheBackgroundOncePerInterval) {
    constexpr std::int64_t kOrg = 4701;
    seed(kOrg, 1);
    server().salesforce().settings({.rotation = true});
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    const auto connectedAt = Clock::now();

    // When the stand-in saw the first two refreshes; the login itself used the refresh token last.
    std::vector<Clock::time_point> refreshedAt;
    std::int64_t seen = 0;
    while (refreshedAt.size() < 2 && Clock::now() < connectedAt + 15s) {
        const std::int64_t refreshes = refreshCallsOf(kOrg);
        ASSERT_LE(refreshes - seen, 1) << "two refreshes within 50 ms";
        if (refreshes > seen) refreshedAt.push_back(Clock::now());
        seen = refreshes;
        std::this_thread::sleep_for(50ms);
    }

    ASSERT_EQ(refreshedAt.size(), 2u);
    EXPECT_GE(refreshedAt[0] - connectedAt, kKeepAlive - 300ms);
    EXPECT_GE(refreshedAt[1] - refreshedAt[0], kKeepAlive - 300ms);
    EXPECT_LT(refreshedAt[1] - refreshedAt[0], 3 * kKeepAlive);
    EXPECT_EQ(counter("retiredTokenPresented"), 0);
    EXPECT_EQ(events(kOrg, "refresh_token_rotated").size(), 2u);
    // The access token the keep-alive stored serves the sync engine without a refresh of its own.
    EXPECT_EQ(requestToken(forLegacyUser(userOf(kOrg, 0))).status, 200);
    EXPECT_EQ(refreshCallsOf(kOrg), 2);
    expectConnectedWithNobodySuspended(kOrg);
}

TEST_F(BrokerKeepAliveTest, IdleConnectionWhoseRefreshTokenExpiredIsLostInTheBackground) {
    constexpr std::int64_t kOrg = 4702;
    seed(kOrg, 2);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    ASSERT_EQ(server().salesforce().expireRefreshTokens(), 1);

    const auto deadline = Clock::now() + 15s;
    while (crm(kOrg)->getValue<std::string>("status") == "Connected" && Clock::now() < deadline) {
        std::this_thread::sleep_for(100ms);
    }

    const auto modern = crm(kOrg);
    EXPECT_EQ(modern->getValue<std::string>("status"), "Disconnected");
    EXPECT_EQ(modern->getValue<std::string>("lastError"), kLossReason);
    EXPECT_EQ(legacyConnectivity(kOrg)->getObject("lostDialog")->getValue<std::string>("reason"), kLossReason);
    for (const auto& [legacyUserId, user] : legacyUsers(kOrg)) {
        EXPECT_EQ(user->getValue<std::string>("highlight"), "red") << legacyUserId;
    }
    EXPECT_EQ(events(kOrg, "lost").size(), 1u);
    const auto problem = expectProblem(requestToken(forLegacyUser(userOf(kOrg, 1))), 409, "SYNC_SUSPENDED");
    EXPECT_EQ(problem->getValue<std::string>("detail"), kLossReason);
}

// --- two `bridge serve` processes on one SQLite store ---

// A temporary directory, removed with everything in it.
class ScratchDirectory {
public:
    ScratchDirectory() : path_(Poco::TemporaryFile::tempName()) { Poco::File(path_).createDirectories(); }
    ~ScratchDirectory() { Poco::File(path_).remove(true); }
    ScratchDirectory(const ScratchDirectory&) = delete;
    ScratchDirectory& operator=(const ScratchDirectory&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

TEST(BrokerTwoProcessesTest, TwoServeProcessesOnOneSqliteStoreRefreshOnceAndShareOneToken) {
    StandinProcess salesforce;
    const ScratchDirectory directory;
    const std::string jwtSecret = base64UrlEncode(randomBytes(32));
    const std::string modernPage = "https://modern.example/crm";
    const std::map<std::string, std::string> environment{
        {"BRIDGE_HTTP_PORT", "0"},
        {"BRIDGE_STORE_DSN", "sqlite:" + directory.path() + "/bridge.db"},
        {"BRIDGE_CRYPTO_KEYS", "k1:" + base64Encode(randomBytes(32))},
        {"BRIDGE_ADMIN_JWTSECRET", jwtSecret},
        {"BRIDGE_SALESFORCE_CLIENTID", salesforce.clientId()},
        {"BRIDGE_SALESFORCE_CLIENTSECRET", salesforce.clientSecret()},
        {"BRIDGE_SALESFORCE_LOGINURL_PRODUCTION", salesforce.baseUrl()},
        {"BRIDGE_SALESFORCE_CALLBACKURL", "http://bridge.example/oauth/salesforce/callback"},
        {"BRIDGE_PANEL_MODERN_RETURNURL", modernPage},
    };
    // One after the other: the first creates the store's schema.
    const ServeProcess first(environment);
    const ServeProcess second(environment);
    const TokenAuthority authority(jwtSecret);
    const std::string support = authority.issue({"support-sue", Role::Support, {}}, std::chrono::hours(1));
    const std::string syncEngine = authority.issue({"sync", Role::SyncEngine, {}}, std::chrono::hours(1));

    const HttpResult profile =
        httpCall(first.port(), "POST", "/api/v2/profiles", support, R"({"name": "Two processes"})");
    ASSERT_EQ(profile.status, 201) << profile.body;
    const std::string profilePath = "/api/v2/profiles/" + profile.json()->getValue<std::string>("id");
    constexpr int kUsers = 4;
    std::vector<std::int64_t> legacyUserIds;
    for (int i = 0; i < kUsers; ++i) {
        const HttpResult user =
            httpCall(i % 2 == 0 ? first.port() : second.port(), "POST", profilePath + "/users", support,
                     R"({"email": "user)" + std::to_string(i) + R"(@two.example", "displayName": "User"})");
        ASSERT_EQ(user.status, 201) << user.body;
        legacyUserIds.push_back(user.json()->getValue<std::int64_t>("legacyUserId"));
    }
    // Login started on the first process, finished by the callback on the second.
    salesforce.setIdentity(serviceAccountOf(profile.json()->getValue<std::int64_t>("legacyOrgId")));
    const HttpResult login = httpCall(first.port(), "POST", profilePath + "/connectivity/crm/login", support);
    ASSERT_EQ(login.status, 200) << login.body;
    const std::string salesforceRedirect =
        salesforce.followAuthorization(login.json()->getValue<std::string>("authorizationUrl"));
    const HttpResult finished = httpCall(second.port(), "GET", Poco::URI(salesforceRedirect).getPathAndQuery());
    ASSERT_EQ(finished.status, 302) << finished.body;
    ASSERT_EQ(finished.header("Location"), modernPage + "?connectivity=connected");

    salesforce.settings({.refreshDelayMs = 300});
    const std::vector<HttpResult> answers = testsupport::runTogether(200, [&](int i) {
        return httpCall(i % 2 == 0 ? first.port() : second.port(), "POST", kAccessTokenPath, syncEngine,
                        forLegacyUser(legacyUserIds[static_cast<std::size_t>(i % kUsers)]));
    });

    const std::set<std::string> tokens = grantedTokens(answers);
    ASSERT_EQ(tokens.size(), 1u);
    EXPECT_EQ(salesforce.counter("refreshCalls"), 1);
    EXPECT_EQ(salesforce.counter("maxConcurrentRefreshes"), 1);
    // Both processes show the connection as it is, and neither a panel answer nor a log line carries the token.
    for (const ServeProcess* process : {&first, &second}) {
        const HttpResult connectivity = httpCall(process->port(), "GET", profilePath + "/connectivity", support);
        ASSERT_EQ(connectivity.status, 200) << connectivity.body;
        EXPECT_EQ(connectivity.json()->getObject("crm")->getValue<std::string>("status"), "Connected");
        const HttpResult events = httpCall(process->port(), "GET", profilePath + "/connectivity/events", support);
        ASSERT_EQ(events.status, 200) << events.body;
        for (const std::string& text : {connectivity.body, events.body, process->output()}) {
            EXPECT_EQ(text.find(*tokens.begin()), std::string::npos) << text;
        }
    }
}

}  // namespace
}  // namespace bridge::testing
