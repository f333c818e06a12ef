#include "StandinServerTest.h"

namespace bridge::standin::test {
namespace {

class RevocationTest : public StandinServerTest {};

TEST_F(RevocationTest, RevokingARefreshTokenRevokesItAndItsAccessTokens) {
    const Poco::JSON::Object::Ptr login = client_.login();
    const std::string refreshToken = login->getValue<std::string>("refresh_token");
    const std::string refreshedAccessToken =
        client_.refresh(refreshToken).json()->getValue<std::string>("access_token");

    const HttpReply reply = client_.revoke(refreshToken);

    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(client_.refresh(refreshToken).json()->getValue<std::string>("error_description"),
              "expired access/refresh token");
    const std::string idUrl = login->getValue<std::string>("id");
    EXPECT_EQ(client_.identity(idUrl, login->getValue<std::string>("access_token")).status, 403);
    EXPECT_EQ(client_.identity(idUrl, refreshedAccessToken).status, 403);
    EXPECT_EQ(counter("revocations"), 1);
    EXPECT_EQ(counter("activeRefreshTokens"), 0);
}

TEST_F(RevocationTest, RevokingAnAccessTokenLeavesTheRefreshToken) {
    const Poco::JSON::Object::Ptr login = client_.login();
    const std::string accessToken = login->getValue<std::string>("access_token");

    EXPECT_EQ(client_.revoke(accessToken).status, 200);

    EXPECT_EQ(client_.identity(login->getValue<std::string>("id"), accessToken).status, 403);
    EXPECT_EQ(client_.refresh(login->getValue<std::string>("refresh_token")).status, 200);
    EXPECT_EQ(counter("revocations"), 1);
}

TEST_F(RevocationTest, UnknownOrAlreadyRevokedTokensAreRefused) {
    const std::string refreshToken = client_.login()->getValue<std::string>("refresh_token");
    ASSERT_EQ(client_.revoke(refreshToken).status, 200);

    const HttpReply again = client_.revoke(refreshToken);
    const HttpReply unknown = client_.revoke("5Aep861unknown");

    EXPECT_EQ(again.status, 400);
    EXPECT_EQ(unknown.status, 400);
    EXPECT_EQ(unknown.json()->getValue<std::string>("error"), "unsupported_token_type");
    EXPECT_EQ(counter("revocations"), 1);
}

TEST_F(RevocationTest, RevokeRedirectSendsTheClientElsewhereToRevoke) {
    changeSettings(R"({"revokeRedirect": true})");
    const std::string refreshToken = client_.login()->getValue<std::string>("refresh_token");

    const HttpReply redirect = client_.revoke(refreshToken);

    ASSERT_EQ(redirect.status, 302);
    EXPECT_EQ(redirect.location, server_.baseUrl() + "/services/oauth2/revoke/redirected");
    EXPECT_EQ(counter("revocations"), 0);
    EXPECT_EQ(client_.refresh(refreshToken).status, 200);

    const HttpReply followed = client_.revoke(refreshToken, "/services/oauth2/revoke/redirected");

    EXPECT_EQ(followed.status, 200);
    EXPECT_EQ(counter("revocations"), 1);
    EXPECT_EQ(client_.refresh(refreshToken).status, 400);
}

TEST_F(RevocationTest, RevokeAlsoTakesTheTokenInTheQuery) {
    const std::string refreshToken = client_.login()->getValue<std::string>("refresh_token");

    const HttpReply reply =
        httpGet(server_.baseUrl() + "/services/oauth2/revoke?" + formEncode({{"token", refreshToken}}));

    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(client_.refresh(refreshToken).status, 400);
}

}  // namespace
}  // namespace bridge::standin::test
