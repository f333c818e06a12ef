#include <Poco/Base64Decoder.h>

#include <chrono>
#include <sstream>

#include "StandinServerTest.h"

namespace bridge::standin::test {
namespace {

class AuthorizationTest : public StandinServerTest {};

TEST_F(AuthorizationTest, ApprovedAuthorizationRedirectsAtOnceWithACodeAndTheState) {
    const HttpReply reply = client_.authorize();

    ASSERT_EQ(reply.status, 302);
    ASSERT_EQ(reply.location.rfind(kRedirectUri + "?", 0), 0U) << reply.location;
    const HttpFields query = queryOf(reply.location);
    EXPECT_EQ(query.at("state"), "state-123");
    EXPECT_EQ(query.at("code").rfind("aPrx", 0), 0U);
    EXPECT_FALSE(query.contains("error"));
}

TEST_F(AuthorizationTest, DeniedAuthorizationRedirectsWithAccessDenied) {
    ASSERT_EQ(client_.control("/control/authorize", R"({"decision": "deny"})").status, 200);

    const HttpReply reply = client_.authorize();

    ASSERT_EQ(reply.status, 302);
    EXPECT_NE(
        reply.location.find("error=access_denied&error_description=end-user+denied+authorization&state=state-123"),
        std::string::npos)
        << reply.location;
    EXPECT_FALSE(queryOf(reply.location).contains("code"));

    ASSERT_EQ(client_.control("/control/authorize", R"({"decision": "approve"})").status, 200);
    EXPECT_TRUE(queryOf(client_.authorize().location).contains("code"));
}

TEST_F(AuthorizationTest, UnknownClientGetsAnErrorPageAndNoRedirect) {
    const HttpReply reply = client_.authorize({{"client_id", "someone-else"}});

    EXPECT_EQ(reply.status, 400);
    EXPECT_TRUE(reply.location.empty());
    EXPECT_NE(reply.contentType.find("text/html"), std::string::npos);
}

TEST_F(AuthorizationTest, UnsupportedResponseTypeRedirectsWithAnError) {
    const HttpReply reply = client_.authorize({{"response_type", "token"}});

    ASSERT_EQ(reply.status, 302);
    const HttpFields query = queryOf(reply.location);
    EXPECT_EQ(query.at("error"), "unsupported_response_type");
    EXPECT_EQ(query.at("state"), "state-123");
}

TEST_F(AuthorizationTest, CodeExchangeWithTheRightVerifierAnswersSalesforcesTokenShape) {
    const auto before = std::chrono::system_clock::now();
    const HttpReply reply = client_.exchangeCode(client_.authorizeForCode());

    ASSERT_EQ(reply.status, 200) << reply.body;
    EXPECT_NE(reply.contentType.find("application/json"), std::string::npos);
    const Poco::JSON::Object::Ptr token = reply.json();
    EXPECT_EQ(token->getValue<std::string>("access_token").rfind("00Dxx0000001gPL!AQ", 0), 0U);
    EXPECT_EQ(token->getValue<std::string>("refresh_token").rfind("5Aep861", 0), 0U);
    EXPECT_EQ(token->getValue<std::string>("instance_url"), server_.baseUrl());
    EXPECT_EQ(token->getValue<std::string>("id"), server_.baseUrl() + "/id/00Dxx0000001gPLEAY/005xx000001SvYbAAK");
    EXPECT_EQ(token->getValue<std::string>("token_type"), "Bearer");
    EXPECT_EQ(token->getValue<std::string>("scope"), kFullScope);
    EXPECT_FALSE(token->has("expires_in"));

    const auto issuedAt = std::stoll(token->getValue<std::string>("issued_at"));
    const auto sinceEpoch = [](auto time) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
    };
    EXPECT_GE(issuedAt, sinceEpoch(before));
    EXPECT_LE(issuedAt, sinceEpoch(std::chrono::system_clock::now()));

    std::istringstream signature(token->getValue<std::string>("signature"));
    Poco::Base64Decoder decoder(signature);
    std::string digest((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
    EXPECT_EQ(digest.size(), 32U);  // an HMAC-SHA256
}

TEST_F(AuthorizationTest, InstanceUrlAndIdFollowTheHostTheClientUsed) {
    const std::string localhost = "localhost:" + std::to_string(server_.port());
    const HttpReply authorization = client_.authorize({}, {{"Host", localhost}});
    const std::string code = queryOf(authorization.location).at("code");

    const Poco::JSON::Object::Ptr token = client_.exchangeCode(code).json();

    EXPECT_EQ(token->getValue<std::string>("id").rfind("http://" + localhost + "/id/", 0), 0U);
    EXPECT_EQ(token->getValue<std::string>("instance_url"), server_.baseUrl());
}

TEST_F(AuthorizationTest, WrongVerifierIsRefusedAndCounted) {
    const HttpReply reply = client_.exchangeCode(client_.authorizeForCode(), kOtherCodeVerifier);

    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(reply.json()->getValue<std::string>("error"), "invalid_grant");
    EXPECT_EQ(reply.json()->getValue<std::string>("error_description"), "invalid code verifier");
    EXPECT_EQ(counter("pkceFailures"), 1);
}

TEST_F(AuthorizationTest, MissingVerifierIsRefusedAndCounted) {
    const HttpReply reply = client_.exchangeCode(client_.authorizeForCode(), "");

    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(reply.json()->getValue<std::string>("error_description"), "invalid code verifier");
    EXPECT_EQ(counter("pkceFailures"), 1);
}

TEST_F(AuthorizationTest, CodeIsSingleUse) {
    const std::string code = client_.authorizeForCode();
    ASSERT_EQ(client_.exchangeCode(code).status, 200);

    const HttpReply second = client_.exchangeCode(code);

    EXPECT_EQ(second.status, 400);
    EXPECT_EQ(second.json()->getValue<std::string>("error"), "invalid_grant");
    EXPECT_EQ(second.json()->getValue<std::string>("error_description"), "authentication failure");
    EXPECT_EQ(counter("codeExchanges"), 2);
    EXPECT_EQ(counter("pkceFailures"), 0);
}

TEST_F(AuthorizationTest, UnknownCodeIsRefused) {
    const HttpReply reply = client_.exchangeCode("aPrxNotACode==");

    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(reply.json()->getValue<std::string>("error_description"), "authentication failure");
}

TEST_F(AuthorizationTest, ExchangeNeedsTheRedirectUriOfTheAuthorization) {
    const HttpReply reply =
        client_.exchangeCode(client_.authorizeForCode(), kCodeVerifier, {{"redirect_uri", "http://elsewhere/cb"}});

    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(reply.json()->getValue<std::string>("error"), "invalid_grant");
}

TEST_F(AuthorizationTest, NoRefreshTokenWithoutTheRefreshTokenScope) {
    const Poco::JSON::Object::Ptr withoutRefresh = client_.login("api");
    EXPECT_FALSE(withoutRefresh->has("refresh_token"));
    EXPECT_TRUE(withoutRefresh->has("access_token"));

    EXPECT_TRUE(client_.login("api offline_access")->has("refresh_token"));
    EXPECT_EQ(counter("activeRefreshTokens"), 1);
}

TEST_F(AuthorizationTest, WrongClientCredentialsAreInvalidClient) {
    const std::string code = client_.authorizeForCode();

    const HttpReply reply = client_.exchangeCode(code, kCodeVerifier, {{"client_secret", "wrong"}});

    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(reply.body, R"({"error":"invalid_client","error_description":"invalid client credentials"})");
    // Refused before the code was looked at, so the code still works.
    EXPECT_EQ(client_.exchangeCode(code).status, 200);
}

TEST_F(AuthorizationTest, ClientCredentialsMayComeAsHttpBasic) {
    const Poco::JSON::Object::Ptr token = client_.login();
    const HttpFields withoutBodyCredentials{{"grant_type", "refresh_token"},
                                            {"refresh_token", token->getValue<std::string>("refresh_token")}};
    const std::string tokenUrl = server_.baseUrl() + "/services/oauth2/token";

    // base64("bridge-demo-client:bridge-demo-secret") and base64("bridge-demo-client:wrong")
    const HttpReply good =
        httpPostForm(tokenUrl, withoutBodyCredentials,
                     {{"Authorization", "Basic YnJpZGdlLWRlbW8tY2xpZW50OmJyaWRnZS1kZW1vLXNlY3JldA=="}});
    const HttpReply bad =
        httpPostForm(tokenUrl, withoutBodyCredentials, {{"Authorization", "Basic YnJpZGdlLWRlbW8tY2xpZW50Ondyb25n"}});

    EXPECT_EQ(good.status, 200) << good.body;
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(bad.json()->getValue<std::string>("error"), "invalid_client");
}

TEST_F(AuthorizationTest, UnknownGrantTypeIsRefused) {
    const HttpReply reply = httpPostForm(
        server_.baseUrl() + "/services/oauth2/token",
        {{"grant_type", "password"}, {"client_id", "bridge-demo-client"}, {"client_secret", "bridge-demo-secret"}});

    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(reply.json()->getValue<std::string>("error"), "unsupported_grant_type");
}

TEST_F(AuthorizationTest, IdentityUrlAnswersForAValidAccessToken) {
    const Poco::JSON::Object::Ptr token = client_.login();

    const HttpReply reply =
        client_.identity(token->getValue<std::string>("id"), token->getValue<std::string>("access_token"));

    ASSERT_EQ(reply.status, 200) << reply.body;
    const Poco::JSON::Object::Ptr identity = reply.json();
    EXPECT_EQ(identity->getValue<std::string>("user_id"), "005xx000001SvYbAAK");
    EXPECT_EQ(identity->getValue<std::string>("organization_id"), "00Dxx0000001gPLEAY");
    EXPECT_EQ(identity->getValue<std::string>("username"), "integration.user@acme.example");
    EXPECT_EQ(identity->getValue<std::string>("email"), "integration.user@acme.example");
    EXPECT_EQ(identity->getValue<std::string>("display_name"), "Integration User");
    EXPECT_TRUE(identity->getValue<bool>("active"));
    EXPECT_EQ(identity->getValue<std::string>("user_type"), "STANDARD");
}

TEST_F(AuthorizationTest, IdentityUrlRefusesMissingOrUnknownTokens) {
    const Poco::JSON::Object::Ptr token = client_.login();
    const std::string idUrl = token->getValue<std::string>("id");

    const HttpReply withoutToken = client_.identity(idUrl, "");
    const HttpReply withUnknownToken = client_.identity(idUrl, "00Dxx0000001gPL!AQnotatoken");
    const HttpReply withRefreshToken = client_.identity(idUrl, token->getValue<std::string>("refresh_token"));

    EXPECT_EQ(withoutToken.status, 403);
    EXPECT_EQ(withoutToken.body, "Bad_OAuth_Token");
    EXPECT_EQ(withUnknownToken.status, 403);
    EXPECT_EQ(withRefreshToken.status, 403);
}

TEST_F(AuthorizationTest, IdentityUrlAcceptsFifteenCharacterIdsAndRefusesOtherOrganizations) {
    const std::string accessToken = client_.login()->getValue<std::string>("access_token");

    const HttpReply shortIds = client_.identity(server_.baseUrl() + "/id/00Dxx0000001gPL/005xx000001SvYb", accessToken);
    const HttpReply otherOrganization =
        client_.identity(server_.baseUrl() + "/id/00Dxx0000009zzz/005xx000001SvYb", accessToken);

    EXPECT_EQ(shortIds.status, 200);
    EXPECT_EQ(shortIds.json()->getValue<std::string>("user_id"), "005xx000001SvYbAAK");
    EXPECT_EQ(otherOrganization.status, 404);
}

}  // namespace
}  // namespace bridge::standin::test
