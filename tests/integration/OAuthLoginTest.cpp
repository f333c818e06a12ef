// "Log in with Salesforce" through both panels end to end over HTTP: the authorization URL, the Salesforce
// stand-in's login, the OAuth callback and what both panels read afterwards, every refusal, disconnecting, the
// legacy toggle and the built-in return pages (API.md "OAuth callback", SALESFORCE.md).
#include <Poco/JSON/Array.h>
#include <Poco/URI.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <future>
#include <map>
#include <regex>
#include <sstream>

#include "ServerHarness.h"
#include "bridge/crypto/Secrets.h"
#include "bridge/crypto/TokenCipher.h"
#include "bridge/services/Connectivity.h"
#include "bridge/store/PublicIds.h"

namespace bridge::testing {
namespace {

using testsupport::StandinFault;
using testsupport::StandinIdentity;

constexpr std::string_view kCallbackPath = "/oauth/salesforce/callback";

// A Salesforce account as the stand-in is told it (15-character ids) and as the panels must show it (18).
struct SalesforceAccount {
    std::string userId15;
    std::string userId18;
    std::string organizationId15;
    std::string organizationId18;
    std::string username;
    std::string email;

    StandinIdentity identity() const {
        return StandinIdentity{
            .userId = userId15, .organizationId = organizationId15, .username = username, .email = email};
    }
};

const SalesforceAccount kServiceAccount{.userId15 = "005xx000001SvYb",
                                        .userId18 = "005xx000001SvYbAAK",
                                        .organizationId15 = "00Dxx0000001gPL",
                                        .organizationId18 = "00Dxx0000001gPLEAY",
                                        .username = "svc-integration@acme.example",
                                        .email = "svc-integration@acme.example"};
const SalesforceAccount kSecondServiceAccount{.userId15 = "005Hx000003KpQr",
                                              .userId18 = "005Hx000003KpQrIAK",
                                              .organizationId15 = "00Dxx0000001gPL",
                                              .organizationId18 = "00Dxx0000001gPLEAY",
                                              .username = "svc-backup@acme.example",
                                              .email = "svc-backup@acme.example"};
const SalesforceAccount kAccountOfAnotherSalesforceOrg{.userId15 = "005Hx000006TuVw",
                                                       .userId18 = "005Hx000006TuVwIAK",
                                                       .organizationId15 = "00DHx000000WxYz",
                                                       .organizationId18 = "00DHx000000WxYzMAK",
                                                       .username = "svc@globex.example",
                                                       .email = "svc@globex.example"};

std::string stringify(const Poco::JSON::Object::Ptr& object) {
    std::ostringstream text;
    object->stringify(text);
    return text.str();
}

std::map<std::string, std::string> queryOf(const std::string& url) {
    std::map<std::string, std::string> parameters;
    for (const auto& [name, value] : Poco::URI(url).getQueryParameters()) {
        EXPECT_TRUE(parameters.emplace(name, value).second) << name << " repeated in " << url;
    }
    return parameters;
}

std::string originOf(const std::string& url) {
    const Poco::URI uri(url);
    return uri.getScheme() + "://" + uri.getAuthority();
}

class OAuthLoginTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { server = new ServerHarness(); }
    static void TearDownTestSuite() {
        delete server;
        server = nullptr;
    }

    // Tests share one stand-in when they run in one process: each starts from its defaults (approving, no faults).
    void SetUp() override { server->salesforce().reset(); }

    // No refresh token (5Aep…) and no access token (<15-character org id>!…) in anything the server answered.
    void TearDown() override {
        const std::regex accessTokenLike("00D[0-9A-Za-z]{12}!");
        for (const auto& answer : answers_) {
            EXPECT_EQ(answer.find("5Aep"), std::string::npos) << answer;
            EXPECT_FALSE(std::regex_search(answer, accessTokenLike)) << answer;
        }
    }

    static std::string connectivityPath(std::int64_t orgId) {
        return "/legacy/api/organizations/" + std::to_string(orgId) + "/salesforce-connectivity";
    }
    static std::string profilePath(std::int64_t orgId) { return "/api/v2/profiles/" + profileIdFor(orgId); }
    static std::string legacyPage(std::string_view outcome) {
        return server->config().panel.legacyReturnUrl + "?connectivity=" + std::string(outcome);
    }
    static std::string modernPage(std::string_view outcome) {
        return server->config().panel.modernReturnUrl + "?connectivity=" + std::string(outcome);
    }
    static std::string refusal(std::string_view code) { return "error&reason=" + std::string(code); }

    // An organization of the test's own with three users, user<legacyId>@org<orgId>.example, ids orgId*10 on.
    static void seed(std::int64_t orgId) {
        server->seedOrganization(orgId, "Organization " + std::to_string(orgId), 3, orgId * 10);
    }
    static std::string seededUserEmail(std::int64_t orgId, int index) {
        return "user" + std::to_string(orgId * 10 + index) + "@org" + std::to_string(orgId) + ".example";
    }

    // Calls made through here have their answers checked by TearDown.
    HttpResult call(const std::string& method, const std::string& path, const std::string& token,
                    const std::string& body = {}) {
        HttpResult result = server->call(method, path, token, body);
        answers_.push_back(result.body + "\n" + result.header("Location"));
        return result;
    }
    std::string legacyToken(std::int64_t orgId) const { return server->orgAdminToken({orgId}); }
    std::string modernToken() const { return server->supportToken(); }

    HttpResult switchLegacyToggle(std::int64_t orgId, bool on) {
        return call("PUT", connectivityPath(orgId), legacyToken(orgId),
                    std::string(R"({"loginUsingServiceAccount": )") + (on ? "true" : "false") + "}");
    }
    HttpResult legacyConnect(std::int64_t orgId, std::string_view environment) {
        return call("POST", connectivityPath(orgId) + "/connect", legacyToken(orgId),
                    R"({"environment": ")" + std::string(environment) + R"("})");
    }
    HttpResult legacyReconnect(std::int64_t orgId) {
        return call("POST", connectivityPath(orgId) + "/reconnect", legacyToken(orgId));
    }
    HttpResult modernLogin(std::int64_t orgId, const std::string& body = {}) {
        return call("POST", profilePath(orgId) + "/connectivity/crm/login", modernToken(), body);
    }
    HttpResult modernRefresh(std::int64_t orgId) {
        return call("POST", profilePath(orgId) + "/connectivity/crm/refresh", modernToken());
    }
    HttpResult modernDisconnect(std::int64_t orgId) {
        return call("DELETE", profilePath(orgId) + "/connectivity/crm", modernToken());
    }

    // The authorizationUrl of a legacy (enveloped) or new-panel answer.
    static std::string authorizationUrlOf(const HttpResult& started) {
        EXPECT_EQ(started.status, 200) << started.body;
        auto body = started.json();
        if (body->has("data")) body = body->getObject("data");
        return body->getValue<std::string>("authorizationUrl");
    }

    // Plays the browser coming back from Salesforce: the redirect Salesforce answered, sent to this server.
    HttpResult callback(const std::string& salesforceRedirect) {
        const std::string& registered = server->config().salesforce.callbackUrl;
        EXPECT_EQ(salesforceRedirect.rfind(registered + "?", 0), 0u) << salesforceRedirect;
        return call("GET", std::string(kCallbackPath) + salesforceRedirect.substr(registered.size()), "");
    }
    // The admin logs in at the stand-in; returns the server's answer to the callback.
    HttpResult logInAtSalesforce(const std::string& authorizationUrl) {
        return callback(server->salesforce().followAuthorization(authorizationUrl));
    }
    static std::string redirectedTo(const HttpResult& answer) {
        EXPECT_EQ(answer.status, 302) << answer.body;
        return answer.header("Location");
    }

    // The legacy toggle on, then a production login through the legacy panel as `account`.
    void connectThroughLegacy(std::int64_t orgId, const SalesforceAccount& account) {
        ASSERT_EQ(switchLegacyToggle(orgId, true).status, 200);
        server->salesforce().setIdentity(account.identity());
        const auto url = authorizationUrlOf(legacyConnect(orgId, "production"));
        ASSERT_EQ(redirectedTo(logInAtSalesforce(url)), legacyPage("connected"));
    }

    Poco::JSON::Object::Ptr legacyConnectivity(std::int64_t orgId) {
        const auto answer = call("GET", connectivityPath(orgId), legacyToken(orgId));
        EXPECT_EQ(answer.status, 200) << answer.body;
        return answer.json()->getObject("data");
    }
    Poco::JSON::Object::Ptr crm(std::int64_t orgId) {
        const auto answer = call("GET", profilePath(orgId) + "/connectivity", modernToken());
        EXPECT_EQ(answer.status, 200) << answer.body;
        return answer.json()->getObject("crm");
    }
    Poco::JSON::Array::Ptr events(std::int64_t orgId) {
        const auto answer = call("GET", profilePath(orgId) + "/connectivity/events", modernToken());
        EXPECT_EQ(answer.status, 200) << answer.body;
        return answer.json()->getArray("items");
    }
    // Both panels' view of the connection and the sealed refresh token at rest: equal means nothing changed.
    std::string connectionSnapshot(std::int64_t orgId) {
        const auto stored = server->store().loadConnection(orgId).refreshToken;
        return stringify(legacyConnectivity(orgId)) + "\n" + stringify(crm(orgId)) + "\n" +
               (stored ? stored->keyId + ":" + stored->ciphertext : "no token");
    }
    static std::optional<std::string> storedRefreshToken(std::int64_t orgId) {
        const auto sealed = server->store().loadConnection(orgId).refreshToken;
        if (!sealed) return std::nullopt;
        return TokenCipher::fromSpec(server->config().crypto.keys)
            .open(*sealed, Connectivity::refreshTokenAssociatedData(orgId));
    }

    static void expectEvent(const Poco::JSON::Object::Ptr& event, std::string_view type, std::string_view panel,
                            std::string_view actor, std::string_view detail) {
        EXPECT_EQ(event->getValue<std::string>("type"), type) << stringify(event);
        EXPECT_EQ(event->getValue<std::string>("panel"), panel) << stringify(event);
        EXPECT_EQ(event->getValue<std::string>("actor"), actor) << stringify(event);
        EXPECT_EQ(event->getValue<std::string>("detail"), detail) << stringify(event);
    }
    void expectRefusalRecorded(std::int64_t orgId, std::string_view code, std::string_view panel,
                               std::string_view actor) {
        expectEvent(events(orgId)->getObject(0), "login_refused", panel, actor, code);
    }

    static std::int64_t counter(const std::string& name) { return server->salesforce().counter(name); }
    static std::int64_t authorizeRequestsAt(const std::string& loginUrl) {
        const auto byHost = server->salesforce().counters()->getObject("authorizeRequestsByHost");
        const std::string host = Poco::URI(loginUrl).getAuthority();
        return byHost->has(host) ? byHost->getValue<std::int64_t>(host) : 0;
    }

    static ServerHarness* server;
    std::vector<std::string> answers_;
};

ServerHarness* OAuthLoginTest::server = nullptr;

// --- successful logins ---

TEST_F(OAuthLoginTest, LegacyRoundTripEstablishesTheConnectionThatBothPanelsRead) {
    constexpr std::int64_t kOrg = 3101;
    seed(kOrg);
    ASSERT_EQ(switchLegacyToggle(kOrg, true).status, 200);
    server->salesforce().setIdentity(kServiceAccount.identity());

    const std::string url = authorizationUrlOf(legacyConnect(kOrg, "production"));
    const std::string& production = server->config().salesforce.productionLoginUrl;
    EXPECT_EQ(originOf(url), production);
    EXPECT_EQ(Poco::URI(url).getPath(), "/services/oauth2/authorize");
    EXPECT_NE(url.find("&scope=api%20refresh_token&"), std::string::npos) << url;
    const auto query = queryOf(url);
    EXPECT_EQ(query.size(), 8u) << url;
    EXPECT_EQ(query.at("response_type"), "code");
    EXPECT_EQ(query.at("client_id"), server->salesforce().clientId());
    EXPECT_EQ(query.at("redirect_uri"), server->config().salesforce.callbackUrl);
    EXPECT_EQ(query.at("scope"), "api refresh_token");
    EXPECT_EQ(query.at("prompt"), "login");
    EXPECT_EQ(query.at("code_challenge_method"), "S256");
    const auto stateBytes = base64UrlDecode(query.at("state"));
    ASSERT_TRUE(stateBytes);
    EXPECT_GE(stateBytes->size() * 8, 128u);
    const auto challengeBytes = base64UrlDecode(query.at("code_challenge"));
    ASSERT_TRUE(challengeBytes);
    EXPECT_EQ(challengeBytes->size(), 32u);  // a SHA-256 digest

    const std::int64_t productionLogins = authorizeRequestsAt(production);
    const std::int64_t exchanges = counter("codeExchanges");
    const std::string salesforceRedirect = server->salesforce().followAuthorization(url);
    EXPECT_EQ(authorizeRequestsAt(production), productionLogins + 1);
    const auto returned = queryOf(salesforceRedirect);
    EXPECT_EQ(returned.at("state"), query.at("state"));
    EXPECT_FALSE(returned.at("code").empty());
    EXPECT_EQ(redirectedTo(callback(salesforceRedirect)), legacyPage("connected"));
    EXPECT_EQ(counter("codeExchanges"), exchanges + 1);

    const auto legacy = legacyConnectivity(kOrg);
    EXPECT_TRUE(legacy->getValue<bool>("loginUsingServiceAccount"));
    EXPECT_EQ(legacy->getValue<std::string>("environment"), "production");
    EXPECT_EQ(legacy->getValue<std::string>("connectionStatus"), "Established");
    EXPECT_EQ(legacy->getValue<std::string>("statusMessage"), "Salesforce connection established successfully");
    EXPECT_EQ(legacy->getValue<std::string>("serviceAccountUserId"), kServiceAccount.userId18);
    EXPECT_EQ(legacy->getValue<std::string>("serviceAccountUsername"), kServiceAccount.username);
    EXPECT_FALSE(legacy->isNull("statusChangedAt"));
    EXPECT_TRUE(legacy->isNull("lostDialog"));

    const auto modern = crm(kOrg);
    EXPECT_EQ(modern->getValue<std::string>("status"), "Connected");
    EXPECT_EQ(modern->getValue<std::string>("environment"), "production");
    const auto account = modern->getObject("serviceAccount");
    ASSERT_TRUE(account);
    EXPECT_EQ(account->getValue<std::string>("userId"), kServiceAccount.userId18);
    EXPECT_EQ(account->getValue<std::string>("organizationId"), kServiceAccount.organizationId18);
    EXPECT_EQ(account->getValue<std::string>("username"), kServiceAccount.username);
    EXPECT_FALSE(modern->isNull("connectedAt"));
    EXPECT_TRUE(modern->isNull("lastError"));
    const auto actions = modern->getArray("actions");
    ASSERT_EQ(actions->size(), 2u);
    EXPECT_EQ(actions->getElement<std::string>(0), "refresh");
    EXPECT_EQ(actions->getElement<std::string>(1), "disconnect");

    const auto history = events(kOrg);
    ASSERT_EQ(history->size(), 3u);
    expectEvent(history->getObject(0), "connected", "legacy", "admin-ann", "production");
    expectEvent(history->getObject(1), "login_started", "legacy", "admin-ann", "production");
    expectEvent(history->getObject(2), "toggle_changed", "legacy", "admin-ann", "on");

    // The callback is single use: played again it changes nothing and exchanges no code, and the refusal goes
    // back to the panel that started the login, with an event there.
    const std::string connected = connectionSnapshot(kOrg);
    EXPECT_EQ(redirectedTo(callback(salesforceRedirect)), legacyPage(refusal("STATE_INVALID")));
    EXPECT_EQ(counter("codeExchanges"), exchanges + 1);
    EXPECT_EQ(connectionSnapshot(kOrg), connected);
    expectEvent(events(kOrg)->getObject(0), "login_refused", "legacy", "admin-ann", "STATE_INVALID");
}

TEST_F(OAuthLoginTest, EveryLoginGetsItsOwnStateAndCodeChallenge) {
    constexpr std::int64_t kOrg = 3102;
    seed(kOrg);
    ASSERT_EQ(switchLegacyToggle(kOrg, true).status, 200);
    const auto first = queryOf(authorizationUrlOf(legacyConnect(kOrg, "production")));
    const auto second = queryOf(authorizationUrlOf(modernLogin(kOrg)));
    EXPECT_NE(first.at("state"), second.at("state"));
    EXPECT_NE(first.at("code_challenge"), second.at("code_challenge"));
}

TEST_F(OAuthLoginTest, NewPanelLoginWithoutBodyConnectsProductionAndSwitchesTheLegacyToggleOn) {
    constexpr std::int64_t kOrg = 3103;
    seed(kOrg);
    EXPECT_FALSE(legacyConnectivity(kOrg)->getValue<bool>("loginUsingServiceAccount"));
    server->salesforce().setIdentity(kServiceAccount.identity());

    const std::string url = authorizationUrlOf(modernLogin(kOrg));
    EXPECT_EQ(originOf(url), server->config().salesforce.productionLoginUrl);
    EXPECT_EQ(redirectedTo(logInAtSalesforce(url)), modernPage("connected"));

    const auto legacy = legacyConnectivity(kOrg);
    EXPECT_TRUE(legacy->getValue<bool>("loginUsingServiceAccount"));
    EXPECT_EQ(legacy->getValue<std::string>("connectionStatus"), "Established");
    EXPECT_EQ(legacy->getValue<std::string>("environment"), "production");
    EXPECT_EQ(crm(kOrg)->getValue<std::string>("status"), "Connected");
    const auto history = events(kOrg);
    ASSERT_EQ(history->size(), 2u);
    expectEvent(history->getObject(0), "connected", "modern", "support-sue", "production");
    expectEvent(history->getObject(1), "login_started", "modern", "support-sue", "production");
}

TEST_F(OAuthLoginTest, SandboxLoginUsesTheSandboxHostAndRefreshAndReconnectKeepIt) {
    constexpr std::int64_t kOrg = 3104;
    seed(kOrg);
    server->salesforce().setIdentity(kServiceAccount.identity());
    const std::string& production = server->config().salesforce.productionLoginUrl;
    const std::string& sandbox = server->config().salesforce.sandboxLoginUrl;

    const std::string url = authorizationUrlOf(modernLogin(kOrg, R"({"environment": "sandbox"})"));
    EXPECT_EQ(originOf(url), sandbox);
    EXPECT_EQ(redirectedTo(logInAtSalesforce(url)), modernPage("connected"));
    EXPECT_EQ(authorizeRequestsAt(sandbox), 1);
    EXPECT_EQ(authorizeRequestsAt(production), 0);
    EXPECT_EQ(crm(kOrg)->getValue<std::string>("environment"), "sandbox");
    EXPECT_EQ(legacyConnectivity(kOrg)->getValue<std::string>("environment"), "sandbox");
    EXPECT_EQ(events(kOrg)->getObject(0)->getValue<std::string>("detail"), "sandbox");

    const std::string refreshUrl = authorizationUrlOf(modernRefresh(kOrg));
    EXPECT_EQ(originOf(refreshUrl), sandbox);
    EXPECT_EQ(redirectedTo(logInAtSalesforce(refreshUrl)), modernPage("connected"));
    EXPECT_EQ(authorizeRequestsAt(sandbox), 2);
    EXPECT_EQ(originOf(authorizationUrlOf(legacyReconnect(kOrg))), sandbox);
    EXPECT_EQ(originOf(authorizationUrlOf(legacyConnect(kOrg, "sandbox"))), sandbox);
    EXPECT_EQ(authorizeRequestsAt(production), 0);
    EXPECT_EQ(crm(kOrg)->getValue<std::string>("status"), "Connected");
}

TEST_F(OAuthLoginTest, RefreshAsAnotherAccountOfTheSameSalesforceOrgReplacesAndRevokesTheStoredToken) {
    constexpr std::int64_t kOrg = 3105;
    seed(kOrg);
    connectThroughLegacy(kOrg, kServiceAccount);
    const auto firstToken = storedRefreshToken(kOrg);
    ASSERT_TRUE(firstToken);
    const std::int64_t revocations = counter("revocations");
    const std::int64_t liveTokens = counter("activeRefreshTokens");

    server->salesforce().setIdentity(kSecondServiceAccount.identity());
    const std::string url = authorizationUrlOf(modernRefresh(kOrg));
    EXPECT_EQ(originOf(url), server->config().salesforce.productionLoginUrl);
    EXPECT_EQ(redirectedTo(logInAtSalesforce(url)), modernPage("connected"));

    const auto account = crm(kOrg)->getObject("serviceAccount");
    EXPECT_EQ(account->getValue<std::string>("userId"), kSecondServiceAccount.userId18);
    EXPECT_EQ(account->getValue<std::string>("username"), kSecondServiceAccount.username);
    EXPECT_EQ(legacyConnectivity(kOrg)->getValue<std::string>("serviceAccountUserId"), kSecondServiceAccount.userId18);
    const auto secondToken = storedRefreshToken(kOrg);
    ASSERT_TRUE(secondToken);
    EXPECT_NE(*secondToken, *firstToken);
    EXPECT_EQ(counter("revocations"), revocations + 1);
    EXPECT_EQ(counter("activeRefreshTokens"), liveTokens);
}

// --- refusals: each returns to the starting panel, records why, and leaves the connection as it was ---

TEST_F(OAuthLoginTest, CancellingAtSalesforceIsAccessDenied) {
    constexpr std::int64_t kOrg = 3201;
    seed(kOrg);
    connectThroughLegacy(kOrg, kServiceAccount);
    const std::string before = connectionSnapshot(kOrg);
    const std::int64_t exchanges = counter("codeExchanges");

    server->salesforce().setAuthorizeDecision(false);
    const std::string salesforceRedirect =
        server->salesforce().followAuthorization(authorizationUrlOf(legacyConnect(kOrg, "production")));
    EXPECT_EQ(queryOf(salesforceRedirect).at("error"), "access_denied");
    EXPECT_EQ(redirectedTo(callback(salesforceRedirect)), legacyPage(refusal("ACCESS_DENIED")));

    EXPECT_EQ(counter("codeExchanges"), exchanges);
    EXPECT_EQ(connectionSnapshot(kOrg), before);
    expectRefusalRecorded(kOrg, "ACCESS_DENIED", "legacy", "admin-ann");
}

TEST_F(OAuthLoginTest, StateThatNamesNoAttemptReturnsToTheNewPanel) {
    const std::int64_t exchanges = counter("codeExchanges");
    EXPECT_EQ(redirectedTo(call("GET", std::string(kCallbackPath) + "?code=aPrxUnknown%3D%3D&state=never-issued", "")),
              modernPage(refusal("STATE_INVALID")));
    EXPECT_EQ(redirectedTo(call("GET", std::string(kCallbackPath) + "?code=aPrxUnknown%3D%3D", "")),
              modernPage(refusal("STATE_INVALID")));
    EXPECT_EQ(counter("codeExchanges"), exchanges);
}

TEST_F(OAuthLoginTest, StateUsedOnceAlreadyIsInvalidTheSecondTime) {
    constexpr std::int64_t kOrg = 3202;
    seed(kOrg);
    server->salesforce().setIdentity(kServiceAccount.identity());
    const std::string salesforceRedirect =
        server->salesforce().followAuthorization(authorizationUrlOf(modernLogin(kOrg)));
    EXPECT_EQ(redirectedTo(callback(salesforceRedirect)), modernPage("connected"));
    const std::string before = connectionSnapshot(kOrg);
    const std::int64_t exchanges = counter("codeExchanges");

    EXPECT_EQ(redirectedTo(callback(salesforceRedirect)), modernPage(refusal("STATE_INVALID")));
    EXPECT_EQ(counter("codeExchanges"), exchanges);
    EXPECT_EQ(connectionSnapshot(kOrg), before);
}

TEST_F(OAuthLoginTest, ConcurrentCallbacksWithOneStateConnectOnce) {
    constexpr std::int64_t kOrg = 3210;
    constexpr int kBrowsers = 8;
    seed(kOrg);
    server->salesforce().setIdentity(kServiceAccount.identity());
    const std::string salesforceRedirect =
        server->salesforce().followAuthorization(authorizationUrlOf(modernLogin(kOrg)));
    const std::string path =
        std::string(kCallbackPath) + salesforceRedirect.substr(server->config().salesforce.callbackUrl.size());

    std::vector<std::future<HttpResult>> answers;
    for (int browser = 0; browser < kBrowsers; ++browser) {
        answers.push_back(std::async(std::launch::async, [&path] { return server->call("GET", path, ""); }));
    }
    std::map<std::string, int> locations;
    for (auto& answer : answers) ++locations[redirectedTo(answer.get())];
    EXPECT_EQ(locations[modernPage("connected")], 1);
    EXPECT_EQ(locations[modernPage(refusal("STATE_INVALID"))], kBrowsers - 1);
    EXPECT_EQ(counter("codeExchanges"), 1);
    EXPECT_EQ(counter("activeRefreshTokens"), 1);
}

TEST_F(OAuthLoginTest, StateOlderThanTenMinutesIsInvalid) {
    constexpr std::int64_t kOrg = 3203;
    seed(kOrg);
    connectThroughLegacy(kOrg, kServiceAccount);
    const std::string before = connectionSnapshot(kOrg);
    const std::int64_t exchanges = counter("codeExchanges");

    const std::string state = base64UrlEncode(randomBytes(32));
    OAuthAttempt expired;
    expired.stateHash = sha256Hex(state);
    expired.orgId = kOrg;
    expired.panel = Panel::Legacy;
    expired.environment = Environment::Production;
    expired.actor = "support-sue";
    expired.codeVerifier = SealedToken{"k1", "never-opened"};
    expired.expiresAt =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() -
        Connectivity::kLoginAttemptSeconds;
    server->store().insertOAuthAttempt(expired);

    EXPECT_EQ(redirectedTo(call("GET", std::string(kCallbackPath) + "?code=aPrxLate%3D%3D&state=" + state, "")),
              legacyPage(refusal("STATE_INVALID")));
    EXPECT_EQ(counter("codeExchanges"), exchanges);
    EXPECT_EQ(connectionSnapshot(kOrg), before);
    expectEvent(events(kOrg)->getObject(0), "login_refused", "legacy", "support-sue", "STATE_INVALID");
}

TEST_F(OAuthLoginTest, ActiveEndUserBySalesforceUserIdIsRefusedAndItsTokenRevoked) {
    constexpr std::int64_t kOrg = 3204;
    seed(kOrg);
    connectThroughLegacy(kOrg, kServiceAccount);
    const SalesforceAccount endUser{.userId15 = "005Hx000004LmNo",
                                    .userId18 = "005Hx000004LmNoIAK",
                                    .organizationId15 = kServiceAccount.organizationId15,
                                    .organizationId18 = kServiceAccount.organizationId18,
                                    .username = "dora@acme.example",
                                    .email = "dora@acme.example"};
    const auto provisioned =
        call("POST", profilePath(kOrg) + "/users", modernToken(),
             R"({"email": "dora.work@acme.example", "salesforceUserId": ")" + endUser.userId15 + R"("})");
    ASSERT_EQ(provisioned.status, 201) << provisioned.body;
    EXPECT_EQ(provisioned.json()->getValue<std::string>("salesforceUserId"), endUser.userId18);
    const std::string before = connectionSnapshot(kOrg);
    const std::int64_t revocations = counter("revocations");
    const std::int64_t liveTokens = counter("activeRefreshTokens");

    server->salesforce().setIdentity(endUser.identity());
    EXPECT_EQ(redirectedTo(logInAtSalesforce(authorizationUrlOf(modernLogin(kOrg)))),
              modernPage(refusal("SERVICE_ACCOUNT_IS_END_USER")));
    EXPECT_EQ(counter("revocations"), revocations + 1);
    EXPECT_EQ(counter("activeRefreshTokens"), liveTokens);
    EXPECT_EQ(connectionSnapshot(kOrg), before);
    expectRefusalRecorded(kOrg, "SERVICE_ACCOUNT_IS_END_USER", "modern", "support-sue");

    // An inactive user is no end user any more: the same account may then serve.
    const auto deactivated =
        call("PATCH", profilePath(kOrg) + "/users/" + provisioned.json()->getValue<std::string>("id"), modernToken(),
             R"({"active": false})");
    ASSERT_EQ(deactivated.status, 200) << deactivated.body;
    EXPECT_EQ(redirectedTo(logInAtSalesforce(authorizationUrlOf(modernLogin(kOrg)))), modernPage("connected"));
    EXPECT_EQ(crm(kOrg)->getObject("serviceAccount")->getValue<std::string>("userId"), endUser.userId18);
}

TEST_F(OAuthLoginTest, ActiveEndUserByUsernameOrEmailIgnoringCaseIsRefused) {
    constexpr std::int64_t kOrg = 3205;
    seed(kOrg);
    connectThroughLegacy(kOrg, kServiceAccount);
    const std::string before = connectionSnapshot(kOrg);
    const std::int64_t revocations = counter("revocations");
    const std::int64_t liveTokens = counter("activeRefreshTokens");
    std::string shouted = seededUserEmail(kOrg, 1);
    std::transform(shouted.begin(), shouted.end(), shouted.begin(), ::toupper);

    const std::vector<StandinIdentity> endUserLogins{
        {.userId = "005Hx000007GhIj",
         .organizationId = kServiceAccount.organizationId15,
         .username = shouted,
         .email = "someone.else@acme.example"},
        {.userId = "005Hx000007GhIj",
         .organizationId = kServiceAccount.organizationId15,
         .username = "svc-sync@acme.example",
         .email = shouted},
    };
    for (const auto& identity : endUserLogins) {
        server->salesforce().setIdentity(identity);
        EXPECT_EQ(redirectedTo(logInAtSalesforce(authorizationUrlOf(legacyConnect(kOrg, "production")))),
                  legacyPage(refusal("SERVICE_ACCOUNT_IS_END_USER")))
            << *identity.username << " / " << *identity.email;
        expectRefusalRecorded(kOrg, "SERVICE_ACCOUNT_IS_END_USER", "legacy", "admin-ann");
    }
    EXPECT_EQ(counter("revocations"), revocations + 2);
    EXPECT_EQ(counter("activeRefreshTokens"), liveTokens);
    EXPECT_EQ(connectionSnapshot(kOrg), before);
}

TEST_F(OAuthLoginTest, LoginAsAnotherSalesforceOrgIsRefusedUntilDisconnected) {
    constexpr std::int64_t kOrg = 3206;
    seed(kOrg);
    connectThroughLegacy(kOrg, kServiceAccount);
    const std::string before = connectionSnapshot(kOrg);
    const std::int64_t revocations = counter("revocations");
    const std::int64_t liveTokens = counter("activeRefreshTokens");

    server->salesforce().setIdentity(kAccountOfAnotherSalesforceOrg.identity());
    EXPECT_EQ(redirectedTo(logInAtSalesforce(authorizationUrlOf(legacyReconnect(kOrg)))),
              legacyPage(refusal("SALESFORCE_ORG_MISMATCH")));
    EXPECT_EQ(counter("revocations"), revocations + 1);
    EXPECT_EQ(counter("activeRefreshTokens"), liveTokens);
    EXPECT_EQ(connectionSnapshot(kOrg), before);
    expectRefusalRecorded(kOrg, "SALESFORCE_ORG_MISMATCH", "legacy", "admin-ann");

    EXPECT_EQ(modernDisconnect(kOrg).status, 204);
    EXPECT_EQ(redirectedTo(logInAtSalesforce(authorizationUrlOf(modernRefresh(kOrg)))), modernPage("connected"));
    EXPECT_EQ(crm(kOrg)->getObject("serviceAccount")->getValue<std::string>("organizationId"),
              kAccountOfAnotherSalesforceOrg.organizationId18);
}

TEST_F(OAuthLoginTest, ServerErrorAtTheCodeExchangeIsSalesforceUnavailable) {
    constexpr std::int64_t kOrg = 3207;
    seed(kOrg);
    connectThroughLegacy(kOrg, kServiceAccount);
    const std::string before = connectionSnapshot(kOrg);
    const std::int64_t exchanges = counter("codeExchanges");
    const std::int64_t liveTokens = counter("activeRefreshTokens");

    server->salesforce().injectFault(StandinFault{.kind = "status500", .grant = "authorization_code"});
    EXPECT_EQ(redirectedTo(logInAtSalesforce(authorizationUrlOf(modernLogin(kOrg)))),
              modernPage(refusal("SALESFORCE_UNAVAILABLE")));
    EXPECT_EQ(counter("codeExchanges"), exchanges + 1);
    EXPECT_EQ(counter("faultsServed"), 1);
    EXPECT_EQ(counter("activeRefreshTokens"), liveTokens);
    EXPECT_EQ(connectionSnapshot(kOrg), before);
    expectRefusalRecorded(kOrg, "SALESFORCE_UNAVAILABLE", "modern", "support-sue");
}

TEST_F(OAuthLoginTest, RefusedCodeExchangeIsTokenExchangeFailed) {
    constexpr std::int64_t kOrg = 3208;
    seed(kOrg);
    connectThroughLegacy(kOrg, kServiceAccount);
    const std::string before = connectionSnapshot(kOrg);
    const std::int64_t liveTokens = counter("activeRefreshTokens");

    server->salesforce().injectFault(StandinFault{.kind = "invalidGrant", .grant = "authorization_code"});
    EXPECT_EQ(redirectedTo(logInAtSalesforce(authorizationUrlOf(legacyConnect(kOrg, "production")))),
              legacyPage(refusal("TOKEN_EXCHANGE_FAILED")));
    EXPECT_EQ(counter("faultsServed"), 1);
    EXPECT_EQ(counter("activeRefreshTokens"), liveTokens);
    EXPECT_EQ(connectionSnapshot(kOrg), before);
    expectRefusalRecorded(kOrg, "TOKEN_EXCHANGE_FAILED", "legacy", "admin-ann");
}

// A token answer naming somewhere other than Salesforce would have the server (identity URL) or the sync engine
// (instance_url) send a token there: the login is refused and the grant revoked.
TEST_F(OAuthLoginTest, TokenAnswerPointingOffSalesforceIsRefusedAndRevoked) {
    constexpr std::int64_t kOrg = 3210;
    seed(kOrg);
    connectThroughLegacy(kOrg, kServiceAccount);
    const std::string before = connectionSnapshot(kOrg);
    const std::int64_t liveTokens = counter("activeRefreshTokens");

    const std::vector<testsupport::StandinSettingsChange> hostile{
        {.instanceUrl = std::string("https://evil.example")},
        {.instanceUrl = std::string("https://login.salesforce.com.evil.example")},
        {.instanceUrl = std::string("http://acme.my.salesforce.com")},  // Salesforce's host, but not over https
        {.identityUrl = std::string("https://evil.example/id/00D000000000001AAA/005000000000001AAA")},
        {.identityUrl = std::string("https://user@acme.my.salesforce.com/id/00D/005")},
    };
    for (auto change : hostile) {
        SCOPED_TRACE(change.instanceUrl.value_or(change.identityUrl.value_or("")));
        change.instanceUrl = change.instanceUrl.value_or("");  // "": the stand-in's own
        change.identityUrl = change.identityUrl.value_or("");
        server->salesforce().settings(change);
        const std::int64_t revocations = counter("revocations");
        EXPECT_EQ(redirectedTo(logInAtSalesforce(authorizationUrlOf(legacyConnect(kOrg, "production")))),
                  legacyPage(refusal("TOKEN_EXCHANGE_FAILED")));
        EXPECT_EQ(counter("revocations"), revocations + 1);  // the refused grant holds no approval
        EXPECT_EQ(counter("activeRefreshTokens"), liveTokens);
        EXPECT_EQ(connectionSnapshot(kOrg), before);
        expectRefusalRecorded(kOrg, "TOKEN_EXCHANGE_FAILED", "legacy", "admin-ann");
    }
    server->salesforce().reset();
}

// The return pages carry a login's outcome in their address: nothing may frame them, sniff them, pass their
// address on or keep them.
TEST_F(OAuthLoginTest, ReturnPagesAndTheCallbackSendSecurityHeaders) {
    for (const std::string panel : {"legacy", "modern"}) {
        const auto page = call("GET", "/oauth/salesforce/done/" + panel + "?connectivity=connected", "");
        ASSERT_EQ(page.status, 200);
        const std::string policy = page.header("Content-Security-Policy");
        EXPECT_NE(policy.find("frame-ancestors 'none'"), std::string::npos) << policy;
        EXPECT_NE(policy.find("default-src 'none'"), std::string::npos) << policy;
        EXPECT_EQ(page.header("X-Content-Type-Options"), "nosniff");
        EXPECT_EQ(page.header("Referrer-Policy"), "no-referrer");
        EXPECT_EQ(page.header("Cache-Control"), "no-store");
    }
    const auto callbackAnswer = call("GET", std::string(kCallbackPath) + "?code=x&state=never-issued", "");
    ASSERT_EQ(callbackAnswer.status, 302);
    EXPECT_EQ(callbackAnswer.header("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(callbackAnswer.header("Cache-Control"), "no-store");
}

TEST_F(OAuthLoginTest, TamperedCodeChallengeFailsPkceAtSalesforce) {
    constexpr std::int64_t kOrg = 3209;
    seed(kOrg);
    server->salesforce().setIdentity(kServiceAccount.identity());
    const std::string before = connectionSnapshot(kOrg);

    std::string url = authorizationUrlOf(modernLogin(kOrg));
    const std::string challenge = "code_challenge=" + queryOf(url).at("code_challenge");
    const auto position = url.find(challenge);
    ASSERT_NE(position, std::string::npos) << url;
    url.replace(position, challenge.size(), "code_challenge=" + sha256Base64Url("a verifier the server never made"));

    EXPECT_EQ(redirectedTo(logInAtSalesforce(url)), modernPage(refusal("TOKEN_EXCHANGE_FAILED")));
    EXPECT_EQ(counter("pkceFailures"), 1);
    EXPECT_EQ(counter("activeRefreshTokens"), 0);
    EXPECT_EQ(connectionSnapshot(kOrg), before);
    EXPECT_EQ(crm(kOrg)->getValue<std::string>("status"), "NotConnected");
    expectRefusalRecorded(kOrg, "TOKEN_EXCHANGE_FAILED", "modern", "support-sue");
}

// --- disconnecting ---

TEST_F(OAuthLoginTest, DisconnectRevokesAndForgetsTheAccountButKeepsTheEnvironment) {
    constexpr std::int64_t kOrg = 3301;
    seed(kOrg);
    server->salesforce().setIdentity(kServiceAccount.identity());
    ASSERT_EQ(redirectedTo(logInAtSalesforce(authorizationUrlOf(modernLogin(kOrg, R"({"environment": "sandbox"})")))),
              modernPage("connected"));
    const std::int64_t revocations = counter("revocations");
    ASSERT_EQ(counter("activeRefreshTokens"), 1);

    const auto disconnected = modernDisconnect(kOrg);
    EXPECT_EQ(disconnected.status, 204);
    EXPECT_TRUE(disconnected.body.empty());
    EXPECT_EQ(counter("revocations"), revocations + 1);
    EXPECT_EQ(counter("activeRefreshTokens"), 0);
    EXPECT_FALSE(storedRefreshToken(kOrg));

    const auto modern = crm(kOrg);
    EXPECT_EQ(modern->getValue<std::string>("status"), "NotConnected");
    EXPECT_EQ(modern->getValue<std::string>("environment"), "sandbox");
    EXPECT_TRUE(modern->isNull("serviceAccount"));
    EXPECT_TRUE(modern->isNull("connectedAt"));
    ASSERT_EQ(modern->getArray("actions")->size(), 1u);
    EXPECT_EQ(modern->getArray("actions")->getElement<std::string>(0), "login");
    const auto legacy = legacyConnectivity(kOrg);
    EXPECT_EQ(legacy->getValue<std::string>("connectionStatus"), "NotConnected");
    EXPECT_EQ(legacy->getValue<std::string>("environment"), "sandbox");
    EXPECT_TRUE(legacy->isNull("serviceAccountUserId"));
    EXPECT_TRUE(legacy->isNull("serviceAccountUsername"));
    EXPECT_TRUE(legacy->getValue<bool>("loginUsingServiceAccount"));
    const auto history = events(kOrg);
    EXPECT_EQ(history->getObject(0)->getValue<std::string>("type"), "disconnected");
    EXPECT_EQ(history->getObject(0)->getValue<std::string>("panel"), "modern");
    EXPECT_EQ(history->getObject(0)->getValue<std::string>("actor"), "support-sue");

    // Nothing left to forget: still 204, nothing revoked, no event; refresh logs in where the connection was.
    EXPECT_EQ(modernDisconnect(kOrg).status, 204);
    EXPECT_EQ(counter("revocations"), revocations + 1);
    EXPECT_EQ(events(kOrg)->size(), history->size());
    EXPECT_EQ(originOf(authorizationUrlOf(modernRefresh(kOrg))), server->config().salesforce.sandboxLoginUrl);
}

TEST_F(OAuthLoginTest, LegacyToggleOffRevokesAndForgetsAndBlocksLegacyLogins) {
    constexpr std::int64_t kOrg = 3302;
    seed(kOrg);
    connectThroughLegacy(kOrg, kServiceAccount);
    const std::int64_t revocations = counter("revocations");

    const auto switchedOff = switchLegacyToggle(kOrg, false);
    ASSERT_EQ(switchedOff.status, 200) << switchedOff.body;
    const auto data = switchedOff.json()->getObject("data");
    EXPECT_FALSE(data->getValue<bool>("loginUsingServiceAccount"));
    EXPECT_EQ(data->getValue<std::string>("connectionStatus"), "NotConnected");
    EXPECT_EQ(data->getValue<std::string>("environment"), "production");
    EXPECT_TRUE(data->isNull("serviceAccountUserId"));
    EXPECT_EQ(counter("revocations"), revocations + 1);
    EXPECT_EQ(counter("activeRefreshTokens"), 0);
    EXPECT_FALSE(storedRefreshToken(kOrg));
    EXPECT_TRUE(crm(kOrg)->isNull("serviceAccount"));
    const auto history = events(kOrg);
    expectEvent(history->getObject(0), "disconnected", "legacy", "admin-ann", "service-account login switched off");
    expectEvent(history->getObject(1), "toggle_changed", "legacy", "admin-ann", "off");

    for (const auto& refused : {legacyConnect(kOrg, "production"), legacyReconnect(kOrg)}) {
        EXPECT_EQ(refused.status, 409);
        EXPECT_EQ(refused.json()->getValue<std::string>("errorCode"), "SERVICE_ACCOUNT_LOGIN_DISABLED");
        EXPECT_FALSE(refused.json()->getValue<bool>("success"));
    }
    EXPECT_EQ(events(kOrg)->size(), history->size());

    // The new panel may log in regardless, and its login switches the toggle back on.
    EXPECT_EQ(redirectedTo(logInAtSalesforce(authorizationUrlOf(modernRefresh(kOrg)))), modernPage("connected"));
    EXPECT_TRUE(legacyConnectivity(kOrg)->getValue<bool>("loginUsingServiceAccount"));
    EXPECT_EQ(legacyConnectivity(kOrg)->getValue<std::string>("connectionStatus"), "Established");
}

// --- secrets ---

TEST_F(OAuthLoginTest, RefreshTokenIsStoredSealedAndAppearsInNoAnswerOrEvent) {
    constexpr std::int64_t kOrg = 3401;
    seed(kOrg);
    connectThroughLegacy(kOrg, kServiceAccount);
    server->salesforce().setIdentity(kAccountOfAnotherSalesforceOrg.identity());
    ASSERT_EQ(redirectedTo(logInAtSalesforce(authorizationUrlOf(modernRefresh(kOrg)))),
              modernPage(refusal("SALESFORCE_ORG_MISMATCH")));
    const auto refreshToken = storedRefreshToken(kOrg);
    ASSERT_TRUE(refreshToken);
    EXPECT_EQ(refreshToken->rfind("5Aep", 0), 0u);
    EXPECT_EQ(server->store().loadConnection(kOrg).refreshToken->ciphertext.find(*refreshToken), std::string::npos);

    const auto history = events(kOrg);
    ASSERT_GE(history->size(), 5u);
    for (std::size_t i = 0; i < history->size(); ++i) {
        EXPECT_EQ(stringify(history->getObject(i)).find("5Aep"), std::string::npos);
    }
    for (const auto& answer : answers_) EXPECT_EQ(answer.find(*refreshToken), std::string::npos) << answer;
}

// --- the built-in return pages, for deployments without panel pages of their own ---

TEST_F(OAuthLoginTest, BuiltInReturnPagesExplainEveryOutcomeInWords) {
    const std::map<std::string, std::string> wordsByReason{
        {"ACCESS_DENIED", "cancelled at Salesforce"},
        {"STATE_INVALID", "already used or is older than 10 minutes"},
        {"SERVICE_ACCOUNT_IS_END_USER", "dedicated service account"},
        {"SALESFORCE_ORG_MISMATCH", "Disconnect first"},
        {"SALESFORCE_UNAVAILABLE", "did not answer"},
        {"TOKEN_EXCHANGE_FAILED", "refused to complete the login"},
    };
    for (const std::string panel : {"legacy", "modern"}) {
        const std::string page = "/oauth/salesforce/done/" + panel;
        const auto connected = call("GET", page + "?connectivity=connected", "");
        EXPECT_EQ(connected.status, 200);
        EXPECT_EQ(connected.header("Content-Type"), "text/html; charset=utf-8");
        EXPECT_NE(connected.body.find("Salesforce is connected"), std::string::npos) << connected.body;
        for (const auto& [reason, words] : wordsByReason) {
            const auto refused = call("GET", page + "?connectivity=error&reason=" + reason, "");
            EXPECT_EQ(refused.status, 200) << page << " " << reason;
            EXPECT_NE(refused.body.find("Salesforce is not connected"), std::string::npos) << refused.body;
            EXPECT_NE(refused.body.find(words), std::string::npos) << reason << ": " << refused.body;
            EXPECT_NE(refused.body.find("Code: " + reason), std::string::npos) << refused.body;
        }
    }
    const auto hostile = call("GET", "/oauth/salesforce/done/legacy?connectivity=error&reason=%3Cscript%3E", "");
    EXPECT_EQ(hostile.status, 200);
    EXPECT_EQ(hostile.body.find("<script>"), std::string::npos) << hostile.body;
    EXPECT_NE(hostile.body.find("&lt;script&gt;"), std::string::npos) << hostile.body;
}

TEST_F(OAuthLoginTest, ReturnUrlsAtTheBuiltInPagesShowTheOutcomeTheCallbackSentTheBrowserTo) {
    constexpr std::int64_t kOrg = 3501;
    ServerHarness::Options options;
    options.legacyReturnUrl = "http://127.0.0.1:1/oauth/salesforce/done/legacy";
    options.modernReturnUrl = "http://127.0.0.1:1/oauth/salesforce/done/modern";
    ServerHarness ownPages(options);
    ownPages.seedOrganization(kOrg, "Own pages", 1, kOrg * 10);
    ownPages.salesforce().setAuthorizeDecision(false);
    const auto started =
        httpCall(ownPages.port(), "POST", profilePath(kOrg) + "/connectivity/crm/login", ownPages.supportToken());
    const std::string salesforceRedirect = ownPages.salesforce().followAuthorization(authorizationUrlOf(started));
    const std::string& registered = ownPages.config().salesforce.callbackUrl;
    const auto answer =
        httpCall(ownPages.port(), "GET", std::string(kCallbackPath) + salesforceRedirect.substr(registered.size()));
    const std::string location = redirectedTo(answer);
    EXPECT_EQ(location, options.modernReturnUrl + "?connectivity=" + refusal("ACCESS_DENIED"));

    const auto page = httpCall(ownPages.port(), "GET", Poco::URI(location).getPathAndQuery());
    EXPECT_EQ(page.status, 200);
    EXPECT_NE(page.body.find("cancelled at Salesforce"), std::string::npos) << page.body;
    EXPECT_NE(page.body.find("Profiles &gt; Connectivity"), std::string::npos) << page.body;
}

}  // namespace
}  // namespace bridge::testing
