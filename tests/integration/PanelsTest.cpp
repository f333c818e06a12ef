// Both panels end to end over HTTP, on one shared store: the behaviours of issue "bridge serve".
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/JSON/Array.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>

#include <set>

#include "ServerHarness.h"
#include "bridge/store/PublicIds.h"

namespace bridge::testing {
namespace {

class PanelsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server = new ServerHarness();
        server->seedOrganization(1042, "Acme", 120, 10000);
        server->seedOrganization(1043, "Globex \xF0\x9F\x9A\x80 \"quoted\" back\\slash\ttab", 2, 20000);
    }
    static void TearDownTestSuite() {
        delete server;
        server = nullptr;
    }

    static std::string profilePath(std::int64_t orgId) { return "/api/v2/profiles/" + profileIdFor(orgId); }

    static ServerHarness* server;
};

ServerHarness* PanelsTest::server = nullptr;

TEST_F(PanelsTest, LegacyOrganizationsInScopeOnly) {
    auto all = server->call("GET", "/legacy/api/organizations", server->supportToken());
    ASSERT_EQ(all.status, 200);
    auto data = all.json()->getArray("data");
    ASSERT_GE(data->size(), 2u);
    EXPECT_EQ(data->getObject(0)->getValue<int>("id"), 1042);

    auto scoped = server->call("GET", "/legacy/api/organizations", server->orgAdminToken({1043}));
    ASSERT_EQ(scoped.status, 200);
    auto only = scoped.json()->getArray("data");
    ASSERT_EQ(only->size(), 1u);
    EXPECT_EQ(only->getObject(0)->getValue<std::string>("name"), "Globex \xF0\x9F\x9A\x80 \"quoted\" back\\slash\ttab");
}

TEST_F(PanelsTest, ToggleWrittenThroughLegacyIsReadThroughBothPanelsAtOnce) {
    const auto token = server->orgAdminToken({1042});
    auto put = server->call("PUT", "/legacy/api/organizations/1042/salesforce-connectivity", token,
                            R"({"loginUsingServiceAccount": true, "authorizationMethod": "oauth"})");
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_TRUE(put.json()->getObject("data")->getValue<bool>("loginUsingServiceAccount"));

    auto legacy = server->call("GET", "/legacy/api/organizations/1042/salesforce-connectivity", token);
    auto data = legacy.json()->getObject("data");
    EXPECT_TRUE(data->getValue<bool>("loginUsingServiceAccount"));
    EXPECT_EQ(data->getValue<std::string>("connectionStatus"), "NotConnected");
    EXPECT_EQ(data->getValue<std::string>("statusMessage"), "Salesforce connection is not established");
    EXPECT_TRUE(data->isNull("lostDialog"));

    auto modern = server->call("GET", profilePath(1042) + "/connectivity", token);
    ASSERT_EQ(modern.status, 200);
    auto crm = modern.json()->getObject("crm");
    EXPECT_EQ(crm->getValue<std::string>("status"), "NotConnected");
    EXPECT_EQ(crm->getArray("actions")->getElement<std::string>(0), "login");

    auto events = server->call("GET", profilePath(1042) + "/connectivity/events", token);
    auto first = events.json()->getArray("items")->getObject(0);
    EXPECT_EQ(first->getValue<std::string>("type"), "toggle_changed");
    EXPECT_EQ(first->getValue<std::string>("panel"), "legacy");
    EXPECT_EQ(first->getValue<std::string>("actor"), "admin-ann");
}

TEST_F(PanelsTest, UserCreatedThroughNewPanelIsReadThroughLegacyPanel) {
    const auto token = server->orgAdminToken({1043});
    auto created = server->call(
        "POST", profilePath(1043) + "/users", token,
        R"({"email": "Dora@Globex.example", "displayName": "Dora \u00e9", "salesforceUserId": "005xx000001SvYb", "active": true})");
    ASSERT_EQ(created.status, 201) << created.body;
    auto user = created.json();
    EXPECT_EQ(user->getValue<std::string>("salesforceUserId"), "005xx000001SvYbAAK");
    const auto legacyId = user->getValue<std::int64_t>("legacyUserId");
    EXPECT_GE(legacyId, 2000000000);

    auto legacy = server->call("GET", "/legacy/api/organizations/1043/users/" + std::to_string(legacyId), token);
    ASSERT_EQ(legacy.status, 200) << legacy.body;
    auto data = legacy.json()->getObject("data");
    EXPECT_EQ(data->getValue<std::string>("email"), "Dora@Globex.example");
    EXPECT_EQ(data->getValue<std::string>("displayName"), "Dora \xC3\xA9");
    EXPECT_TRUE(data->isNull("highlight"));
    EXPECT_TRUE(data->isNull("notification"));

    auto twin = server->call("POST", profilePath(1043) + "/users", token, R"({"email": "dora@GLOBEX.example"})");
    EXPECT_EQ(twin.status, 409);
    EXPECT_EQ(twin.json()->getValue<std::string>("code"), "EMAIL_TAKEN");
    EXPECT_EQ(twin.header("Content-Type"), "application/problem+json");

    auto patched = server->call("PATCH", profilePath(1043) + "/users/" + user->getValue<std::string>("id"), token,
                                R"({"active": false, "displayName": null})");
    ASSERT_EQ(patched.status, 200) << patched.body;
    EXPECT_FALSE(patched.json()->getValue<bool>("active"));
    auto reread = server->call("GET", "/legacy/api/organizations/1043/users/" + std::to_string(legacyId), token);
    EXPECT_FALSE(reread.json()->getObject("data")->getValue<bool>("active"));
    EXPECT_TRUE(reread.json()->getObject("data")->isNull("displayName"));
}

TEST_F(PanelsTest, PagingOf120UsersSeesEachExactlyOnceInBothPanels) {
    const auto token = server->orgAdminToken({1042});
    std::set<std::int64_t> legacySeen;
    for (int offset = 0;; offset += 50) {
        auto page = server->call(
            "GET", "/legacy/api/organizations/1042/users?offset=" + std::to_string(offset) + "&limit=50", token);
        ASSERT_EQ(page.status, 200);
        auto data = page.json()->getObject("data");
        EXPECT_EQ(data->getValue<int>("total"), 120);
        auto users = data->getArray("users");
        for (std::size_t i = 0; i < users->size(); ++i) {
            EXPECT_TRUE(legacySeen.insert(users->getObject(i)->getValue<std::int64_t>("id")).second);
        }
        if (users->size() < 50) break;
    }
    EXPECT_EQ(legacySeen.size(), 120u);

    std::set<std::int64_t> modernSeen;
    std::string cursor;
    int pages = 0;
    do {
        auto page = server->call(
            "GET", profilePath(1042) + "/users?limit=50" + (cursor.empty() ? "" : "&cursor=" + cursor), token);
        ASSERT_EQ(page.status, 200);
        auto body = page.json();
        auto items = body->getArray("items");
        for (std::size_t i = 0; i < items->size(); ++i) {
            auto item = items->getObject(i);
            EXPECT_TRUE(modernSeen.insert(item->getValue<std::int64_t>("legacyUserId")).second);
            EXPECT_EQ(item->getObject("synchronization")->getValue<std::string>("status"), "Enabled");
        }
        cursor = body->isNull("nextCursor") ? "" : body->getValue<std::string>("nextCursor");
        ++pages;
    } while (!cursor.empty() && pages < 10);
    EXPECT_EQ(modernSeen, legacySeen);

    EXPECT_EQ(server->call("GET", "/legacy/api/organizations/1042/users?limit=501", token).status, 400);
    EXPECT_EQ(server->call("GET", profilePath(1042) + "/users?limit=501", token).status, 400);
}

TEST_F(PanelsTest, OrgAdminOfOneOrganizationGetsNotFoundForAnotherOnEveryPath) {
    const auto token = server->orgAdminToken({1043});
    const std::vector<std::pair<std::string, std::string>> legacyCalls{
        {"GET", "/legacy/api/organizations/1042/salesforce-connectivity"},
        {"PUT", "/legacy/api/organizations/1042/salesforce-connectivity"},
        {"POST", "/legacy/api/organizations/1042/salesforce-connectivity/connect"},
        {"POST", "/legacy/api/organizations/1042/salesforce-connectivity/reconnect"},
        {"GET", "/legacy/api/organizations/1042/users"},
        {"GET", "/legacy/api/organizations/1042/users/10000"},
        {"GET", "/legacy/api/organizations/999999/users"},
    };
    for (const auto& [method, path] : legacyCalls) {
        auto result = server->call(method, path, token, method == "GET" ? "" : R"({"environment": "production"})");
        EXPECT_EQ(result.status, 404) << method << " " << path;
        EXPECT_EQ(result.json()->getValue<std::string>("errorCode"), "ORG_NOT_FOUND") << path;
        EXPECT_FALSE(result.json()->getValue<bool>("success"));
    }
    const std::string other = profilePath(1042);
    const std::vector<std::pair<std::string, std::string>> modernCalls{
        {"GET", other + "/connectivity"},
        {"POST", other + "/connectivity/crm/login"},
        {"POST", other + "/connectivity/crm/refresh"},
        {"DELETE", other + "/connectivity/crm"},
        {"GET", other + "/connectivity/events"},
        {"GET", other + "/notifications"},
        {"GET", other + "/users"},
        {"POST", other + "/users"},
        {"PATCH", other + "/users/" + userIdFor(10000)},
    };
    for (const auto& [method, path] : modernCalls) {
        auto result = server->call(method, path, token, method == "GET" || method == "DELETE" ? "" : "{}");
        EXPECT_EQ(result.status, 404) << method << " " << path;
        EXPECT_EQ(result.json()->getValue<std::string>("code"), "PROFILE_NOT_FOUND") << path;
    }
    // A user of another organization through an organization in scope reads as unknown too.
    auto crossUser = server->call("GET", "/legacy/api/organizations/1043/users/10000", token);
    EXPECT_EQ(crossUser.status, 404);
    EXPECT_EQ(crossUser.json()->getValue<std::string>("errorCode"), "USER_NOT_FOUND");
}

TEST_F(PanelsTest, AuthenticationAndRolesAnswer401And403InEachFamilysShape) {
    auto missing = server->call("GET", "/legacy/api/organizations", "");
    EXPECT_EQ(missing.status, 401);
    EXPECT_EQ(missing.json()->getValue<std::string>("errorCode"), "UNAUTHORIZED");
    auto garbage = server->call("GET", "/api/v2/profiles", "not-a-jwt");
    EXPECT_EQ(garbage.status, 401);
    EXPECT_EQ(garbage.json()->getValue<std::string>("code"), "UNAUTHORIZED");
    auto syncOnPanel = server->call("GET", "/api/v2/profiles", server->syncEngineToken());
    EXPECT_EQ(syncOnPanel.status, 403);
    auto adminCreatesProfile =
        server->call("POST", "/api/v2/profiles", server->orgAdminToken({1042}), R"({"name":"X"})");
    EXPECT_EQ(adminCreatesProfile.status, 403);
    auto created = server->call("POST", "/api/v2/profiles", server->supportToken(), R"({"name":"New \u2603"})");
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_GE(created.json()->getValue<std::int64_t>("legacyOrgId"), 2000000000);
}

TEST_F(PanelsTest, BadInputIsRefusedWithTheContractsCodeNamingTheField) {
    const auto token = server->orgAdminToken({1042});
    auto malformed = server->call("PUT", "/legacy/api/organizations/1042/salesforce-connectivity", token, "{nope");
    EXPECT_EQ(malformed.status, 400);
    EXPECT_EQ(malformed.json()->getValue<std::string>("errorCode"), "VALIDATION_FAILED");
    auto mistyped = server->call("PUT", "/legacy/api/organizations/1042/salesforce-connectivity", token,
                                 R"({"loginUsingServiceAccount": "yes"})");
    EXPECT_EQ(mistyped.status, 400);
    EXPECT_NE(mistyped.json()->getValue<std::string>("message").find("loginUsingServiceAccount"), std::string::npos);
    auto apiOnly = server->call("PUT", "/legacy/api/organizations/1042/salesforce-connectivity", token,
                                R"({"authorizationMethod": "apiOnlyUser"})");
    EXPECT_EQ(apiOnly.status, 422);
    EXPECT_EQ(apiOnly.json()->getValue<std::string>("errorCode"), "AUTH_METHOD_UNAVAILABLE");
    EXPECT_EQ(apiOnly.json()->getValue<std::string>("message"), "API only user authorization is not available yet");
    auto badEmail = server->call("POST", profilePath(1042) + "/users", token, R"({"email": "not an email"})");
    EXPECT_EQ(badEmail.status, 400);
    EXPECT_EQ(badEmail.json()->getValue<std::string>("field"), "email");
    auto badId = server->call("POST", profilePath(1042) + "/users", token,
                              R"({"email": "x@y.example", "salesforceUserId": "005!"})");
    EXPECT_EQ(badId.status, 400);
    EXPECT_EQ(badId.json()->getValue<std::string>("field"), "salesforceUserId");
    auto neverConnected = server->call("POST", profilePath(1042) + "/connectivity/crm/refresh", token);
    EXPECT_EQ(neverConnected.status, 409);
    EXPECT_EQ(neverConnected.json()->getValue<std::string>("code"), "NOT_CONNECTED");
    auto nothing = server->call("POST", "/legacy/api/organizations/1042/salesforce-connectivity/reconnect", token);
    EXPECT_EQ(nothing.status, 409);
    EXPECT_EQ(nothing.json()->getValue<std::string>("errorCode"), "NOTHING_TO_RECONNECT");
}

TEST_F(PanelsTest, BodyOver64KiBIsRefusedAndKeepAliveSurvivesErrors) {
    const auto token = server->orgAdminToken({1042});
    const std::string huge = R"({"displayName": ")" + std::string(70 * 1024, 'a') + R"("})";
    auto tooLarge = server->call("POST", profilePath(1042) + "/users", token, huge);
    EXPECT_EQ(tooLarge.status, 413);
    EXPECT_EQ(tooLarge.json()->getValue<std::string>("code"), "PAYLOAD_TOO_LARGE");
    auto legacyTooLarge = server->call("PUT", "/legacy/api/organizations/1042/salesforce-connectivity", token, huge);
    EXPECT_EQ(legacyTooLarge.status, 413);
    EXPECT_FALSE(legacyTooLarge.json()->getValue<bool>("success"));

    // A chunked body gives no length up front: it is refused once it passes 64 KiB.
    auto chunked =
        httpCall(server->port(), "POST", profilePath(1042) + "/users", token, huge, {{"Transfer-Encoding", "chunked"}});
    EXPECT_EQ(chunked.status, 413);

    // A request refused before its body was read leaves the connection usable for the next one.
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(server->port()));
    session.setKeepAlive(true);
    for (const std::string path : {"/api/v2/no-such-route", "/api/v2/profiles"}) {
        Poco::Net::HTTPRequest request("POST", path, Poco::Net::HTTPMessage::HTTP_1_1);
        request.setKeepAlive(true);
        request.set("Authorization", "Bearer " + server->supportToken());
        const std::string body = R"({"name": "kept alive"})";
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        session.sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::string answer;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
        EXPECT_EQ(response.getStatus(), path == "/api/v2/profiles" ? 201 : 404) << answer;
        EXPECT_TRUE(response.getKeepAlive());
    }
}

TEST_F(PanelsTest, UnknownPathsAnswer404InTheirFamilysShape) {
    const auto token = server->supportToken();
    auto legacy = server->call("GET", "/legacy/api/nothing-here", token);
    EXPECT_EQ(legacy.status, 404);
    EXPECT_FALSE(legacy.json()->getValue<bool>("success"));
    auto modern = server->call("GET", "/api/v2/nothing-here", token);
    EXPECT_EQ(modern.status, 404);
    EXPECT_EQ(modern.header("Content-Type"), "application/problem+json");
    auto elsewhere = server->call("GET", "/nowhere", "");
    EXPECT_EQ(elsewhere.status, 404);
    EXPECT_EQ(elsewhere.json()->getValue<int>("status"), 404);
}

TEST_F(PanelsTest, StoreThatCannotBeWrittenAnswers503InBothShapesAndWritesNothing) {
    // Another process holding the SQLite write lock past the busy timeout is the store being unavailable.
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::Session blocker("SQLite", server->config().store.dsn.substr(std::string("sqlite:").size()));
    blocker << "BEGIN EXCLUSIVE", Poco::Data::Keywords::now;
    const auto token = server->orgAdminToken({1043});
    auto legacy = server->call("PUT", "/legacy/api/organizations/1043/salesforce-connectivity", token,
                               R"({"loginUsingServiceAccount": true})");
    auto modern = server->call("POST", profilePath(1043) + "/users", token, R"({"email": "blocked@globex.example"})");
    blocker << "ROLLBACK", Poco::Data::Keywords::now;

    EXPECT_EQ(legacy.status, 503);
    EXPECT_EQ(legacy.json()->getValue<std::string>("errorCode"), "STORE_UNAVAILABLE");
    EXPECT_EQ(modern.status, 503);
    EXPECT_EQ(modern.json()->getValue<std::string>("code"), "STORE_UNAVAILABLE");
    auto after = server->call("GET", "/legacy/api/organizations/1043/salesforce-connectivity", token);
    EXPECT_FALSE(after.json()->getObject("data")->getValue<bool>("loginUsingServiceAccount"));
    auto users = server->call("GET", "/legacy/api/organizations/1043/users", token);
    EXPECT_EQ(users.body.find("blocked@globex.example"), std::string::npos);
}

TEST_F(PanelsTest, OperationsEndpointsNeedNoToken) {
    EXPECT_EQ(server->call("GET", "/healthz", "").status, 200);
    EXPECT_EQ(server->call("GET", "/readyz", "").status, 200);
    auto metrics = server->call("GET", "/metrics", "");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("bridge_http_requests_total"), std::string::npos);
    auto openapi = server->call("GET", "/openapi.json", "");
    EXPECT_EQ(openapi.status, 200);
    EXPECT_EQ(openapi.json()->getValue<std::string>("openapi"), "3.0.3");
}

}  // namespace
}  // namespace bridge::testing
