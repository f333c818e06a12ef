#include "StandinServerTest.h"

namespace bridge::standin::test {
namespace {

class ControlTest : public StandinServerTest {};

TEST_F(ControlTest, IdentityConvertsIdsAndTheNextLoginUsesIt) {
    const HttpReply reply = client_.control("/control/identity", R"({"userId": "005xx000002AbCd",
        "organizationId": "00Dxx0000002XyZ", "username": "svc@acme.example", "email": "ops@acme.example",
        "displayName": "Sync Service", "userType": "STANDARD"})");

    ASSERT_EQ(reply.status, 200) << reply.body;
    const Poco::JSON::Object::Ptr identity = reply.json();
    EXPECT_EQ(identity->getValue<std::string>("userId"), "005xx000002AbCdAAK");
    EXPECT_EQ(identity->getValue<std::string>("organizationId"), "00Dxx0000002XyZEAU");
    EXPECT_TRUE(identity->getValue<bool>("active"));

    const Poco::JSON::Object::Ptr token = client_.login();
    EXPECT_EQ(token->getValue<std::string>("id"), server_.baseUrl() + "/id/00Dxx0000002XyZEAU/005xx000002AbCdAAK");
    EXPECT_EQ(token->getValue<std::string>("access_token").rfind("00Dxx0000002XyZ!AQ", 0), 0U);
    const Poco::JSON::Object::Ptr described =
        client_.identity(token->getValue<std::string>("id"), token->getValue<std::string>("access_token")).json();
    EXPECT_EQ(described->getValue<std::string>("username"), "svc@acme.example");
    EXPECT_EQ(described->getValue<std::string>("email"), "ops@acme.example");
    EXPECT_EQ(described->getValue<std::string>("display_name"), "Sync Service");
}

TEST_F(ControlTest, IdentityFieldsLeftOutKeepTheirValues) {
    ASSERT_EQ(client_.control("/control/identity", R"({"displayName": "Renamed"})").status, 200);

    const Poco::JSON::Object::Ptr identity = httpGet(server_.baseUrl() + "/control/identity").json();

    EXPECT_EQ(identity->getValue<std::string>("userId"), "005xx000001SvYbAAK");
    EXPECT_EQ(identity->getValue<std::string>("username"), "integration.user@acme.example");
    EXPECT_EQ(identity->getValue<std::string>("displayName"), "Renamed");
}

TEST_F(ControlTest, InactiveIdentityIsDescribedAsInactive) {
    ASSERT_EQ(client_.control("/control/identity", R"({"userId": "005xx000003QqQq", "active": false})").status, 200);
    const Poco::JSON::Object::Ptr token = client_.login();

    const HttpReply identity =
        client_.identity(token->getValue<std::string>("id"), token->getValue<std::string>("access_token"));

    EXPECT_FALSE(identity.json()->getValue<bool>("active"));
    EXPECT_EQ(client_.refresh(token->getValue<std::string>("refresh_token"))
                  .json()
                  ->getValue<std::string>("error_description"),
              "inactive user");
}

TEST_F(ControlTest, MalformedIdentityIsRefused) {
    EXPECT_EQ(client_.control("/control/identity", R"({"userId": "005-short"})").status, 400);
    EXPECT_EQ(client_.control("/control/identity", R"({"active": "yes"})").status, 400);
    EXPECT_EQ(httpGet(server_.baseUrl() + "/control/identity").json()->getValue<std::string>("userId"),
              "005xx000001SvYbAAK");
}

TEST_F(ControlTest, SettingsChangeOnlyWhatIsGivenAndEchoEverything) {
    const HttpReply first = client_.control("/control/settings", R"({"rotation": true, "refreshDelayMs": 25})");
    const HttpReply second = client_.control("/control/settings", R"({"approvalLimit": true})");

    EXPECT_EQ(first.status, 200);
    EXPECT_EQ(second.body,
              R"({"approvalLimit":true,"identityUrl":"","instanceUrl":"","refreshDelayMs":25,"revokeRedirect":false,)"
              R"("revokeRedirectBase":"","rotation":true})");
    EXPECT_EQ(client_.control("/control/settings", R"({"refreshDelayMs": -1})").status, 400);
}

TEST_F(ControlTest, AuthorizeDecisionMustBeApproveOrDeny) {
    EXPECT_EQ(client_.control("/control/authorize", R"({"decision": "maybe"})").status, 400);
    EXPECT_EQ(client_.control("/control/authorize", "{}").status, 400);
}

TEST_F(ControlTest, UnknownControlEndpointIsNotFound) {
    EXPECT_EQ(client_.control("/control/nothing-here").status, 404);
    EXPECT_EQ(httpGet(server_.baseUrl() + "/control/reset").status, 404);
    EXPECT_EQ(httpGet(server_.baseUrl() + "/nowhere").status, 404);
}

TEST_F(ControlTest, CountersCountWithoutRevealingTokens) {
    const std::string localhost = "localhost:" + std::to_string(server_.port());
    client_.authorize({}, {{"Host", localhost}});
    client_.authorize({}, {{"Host", localhost}});
    const Poco::JSON::Object::Ptr login = client_.login();
    client_.exchangeCode(client_.authorizeForCode(), kOtherCodeVerifier);
    client_.refresh(login->getValue<std::string>("refresh_token"));
    client_.revoke(login->getValue<std::string>("access_token"));

    const HttpReply reply = httpGet(server_.baseUrl() + "/control/counters");

    const Poco::JSON::Object::Ptr counters = reply.json();
    EXPECT_EQ(counters->getValue<Poco::Int64>("authorizeRequests"), 4);
    const auto byHost = counters->getObject("authorizeRequestsByHost");
    EXPECT_EQ(byHost->getValue<Poco::Int64>(localhost), 2);
    EXPECT_EQ(byHost->getValue<Poco::Int64>("127.0.0.1:" + std::to_string(server_.port())), 2);
    EXPECT_EQ(counters->getValue<Poco::Int64>("codeExchanges"), 2);
    EXPECT_EQ(counters->getValue<Poco::Int64>("pkceFailures"), 1);
    EXPECT_EQ(counters->getValue<Poco::Int64>("refreshCalls"), 1);
    EXPECT_EQ(counters->getValue<Poco::Int64>("revocations"), 1);
    EXPECT_EQ(counters->getValue<Poco::Int64>("activeRefreshTokens"), 1);
    EXPECT_EQ(counters->getValue<Poco::Int64>("retiredTokenPresented"), 0);
    EXPECT_EQ(counters->getValue<Poco::Int64>("faultsServed"), 0);
    EXPECT_EQ(counters->getValue<Poco::Int64>("maxConcurrentRefreshes"), 1);
    EXPECT_EQ(counters->getValue<Poco::Int64>("maxConcurrentRefreshesPerToken"), 1);
    EXPECT_EQ(counters->getValue<Poco::Int64>("maxPresentationsPerRefreshToken"), 1);
    EXPECT_EQ(reply.body.find(login->getValue<std::string>("refresh_token")), std::string::npos);
    EXPECT_EQ(reply.body.find(login->getValue<std::string>("access_token")), std::string::npos);
}

TEST_F(ControlTest, ResetForgetsEverything) {
    changeSettings(R"({"rotation": true, "revokeRedirect": true})");
    ASSERT_EQ(client_.control("/control/identity", R"({"userId": "005xx000002AbCd"})").status, 200);
    ASSERT_EQ(
        client_.control("/control/faults", R"({"kind": "status500", "count": 5, "grant": "refresh_token"})").status,
        200);
    const std::string refreshToken = client_.login()->getValue<std::string>("refresh_token");
    const std::string pendingCode = client_.authorizeForCode();

    ASSERT_EQ(client_.control("/control/reset").status, 200);

    const HttpReply refresh = client_.refresh(refreshToken);
    EXPECT_EQ(refresh.status, 400);
    EXPECT_EQ(refresh.json()->getValue<std::string>("error_description"), "expired access/refresh token");
    EXPECT_EQ(client_.exchangeCode(pendingCode).status, 400);
    const Poco::JSON::Object::Ptr fresh = client_.login();
    EXPECT_EQ(fresh->getValue<std::string>("id"), server_.baseUrl() + "/id/00Dxx0000001gPLEAY/005xx000001SvYbAAK");
    EXPECT_FALSE(client_.refresh(fresh->getValue<std::string>("refresh_token")).json()->has("refresh_token"));
    EXPECT_EQ(client_.revoke(fresh->getValue<std::string>("refresh_token")).status, 200);
    EXPECT_EQ(counter("faultsServed"), 0);
    EXPECT_EQ(counter("authorizeRequests"), 1);
}

}  // namespace
}  // namespace bridge::standin::test
