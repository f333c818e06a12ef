#include <future>
#include <string>
#include <vector>

#include "StandinServerTest.h"

namespace bridge::standin::test {
namespace {

class RefreshTest : public StandinServerTest {
protected:
    static std::string refreshTokenOf(const Poco::JSON::Object::Ptr& token) {
        return token->getValue<std::string>("refresh_token");
    }

    void expectRefused(const HttpReply& reply, const std::string& description) const {
        EXPECT_EQ(reply.status, 400) << reply.body;
        EXPECT_EQ(reply.json()->getValue<std::string>("error"), "invalid_grant");
        EXPECT_EQ(reply.json()->getValue<std::string>("error_description"), description);
    }
};

TEST_F(RefreshTest, RefreshAnswersANewAccessTokenAndKeepsTheRefreshToken) {
    const Poco::JSON::Object::Ptr login = client_.login();

    const HttpReply reply = client_.refresh(refreshTokenOf(login));

    ASSERT_EQ(reply.status, 200) << reply.body;
    const Poco::JSON::Object::Ptr token = reply.json();
    EXPECT_FALSE(token->has("refresh_token"));
    EXPECT_NE(token->getValue<std::string>("access_token"), login->getValue<std::string>("access_token"));
    EXPECT_EQ(token->getValue<std::string>("id"), login->getValue<std::string>("id"));
    EXPECT_EQ(token->getValue<std::string>("instance_url"), server_.baseUrl());
    EXPECT_TRUE(token->has("issued_at"));
    EXPECT_TRUE(token->has("signature"));
    EXPECT_FALSE(token->has("expires_in"));
    EXPECT_EQ(client_.identity(token->getValue<std::string>("id"), token->getValue<std::string>("access_token")).status,
              200);
    EXPECT_EQ(client_.refresh(refreshTokenOf(login)).status, 200);
    EXPECT_EQ(counter("refreshCalls"), 2);
}

TEST_F(RefreshTest, UnknownRefreshTokenIsExpired) {
    expectRefused(client_.refresh("5Aep861unknown"), "expired access/refresh token");
}

TEST_F(RefreshTest, RotationRetiresThePresentedTokenAndARetiredTokenRevokesTheChain) {
    changeSettings(R"({"rotation": true})");
    const Poco::JSON::Object::Ptr login = client_.login();
    const std::string original = refreshTokenOf(login);

    const HttpReply firstRefresh = client_.refresh(original);
    ASSERT_EQ(firstRefresh.status, 200) << firstRefresh.body;
    const std::string rotated = refreshTokenOf(firstRefresh.json());
    EXPECT_NE(rotated, original);
    const HttpReply secondRefresh = client_.refresh(rotated);
    ASSERT_EQ(secondRefresh.status, 200);
    const std::string rotatedAgain = refreshTokenOf(secondRefresh.json());
    EXPECT_EQ(counter("activeRefreshTokens"), 1);
    EXPECT_EQ(counter("maxPresentationsPerRefreshToken"), 1);

    expectRefused(client_.refresh(original), "expired access/refresh token");

    EXPECT_EQ(counter("retiredTokenPresented"), 1);
    EXPECT_EQ(counter("maxPresentationsPerRefreshToken"), 2);  // the original, twice
    expectRefused(client_.refresh(rotatedAgain), "expired access/refresh token");
    EXPECT_EQ(client_.identity(login->getValue<std::string>("id"), login->getValue<std::string>("access_token")).status,
              403);
    EXPECT_EQ(counter("activeRefreshTokens"), 0);
}

TEST_F(RefreshTest, RetiringTheChainLeavesOtherLoginsAlone) {
    changeSettings(R"({"rotation": true})");
    const std::string first = refreshTokenOf(client_.login());
    const std::string other = refreshTokenOf(client_.login());
    ASSERT_EQ(client_.refresh(first).status, 200);

    expectRefused(client_.refresh(first), "expired access/refresh token");

    const HttpReply otherRefresh = client_.refresh(other);
    EXPECT_EQ(otherRefresh.status, 200);
    EXPECT_TRUE(otherRefresh.json()->has("refresh_token"));
}

TEST_F(RefreshTest, SixthApprovalOfAUserRevokesItsOldestChain) {
    changeSettings(R"({"approvalLimit": true})");
    std::vector<std::string> refreshTokens;
    for (int login = 0; login < 6; ++login) refreshTokens.push_back(refreshTokenOf(client_.login()));

    expectRefused(client_.refresh(refreshTokens[0]), "expired access/refresh token");
    for (std::size_t kept = 1; kept < refreshTokens.size(); ++kept) {
        EXPECT_EQ(client_.refresh(refreshTokens[kept]).status, 200) << "login " << kept;
    }
    EXPECT_EQ(counter("activeRefreshTokens"), 5);
}

TEST_F(RefreshTest, ApprovalLimitCountsPerUser) {
    changeSettings(R"({"approvalLimit": true})");
    const std::string firstOfDefaultUser = refreshTokenOf(client_.login());
    ASSERT_EQ(client_.control("/control/identity", R"({"userId": "005xx000002AbCd"})").status, 200);
    for (int login = 0; login < 5; ++login) client_.login();

    EXPECT_EQ(client_.refresh(firstOfDefaultUser).status, 200);
}

TEST_F(RefreshTest, WithoutTheApprovalLimitEveryLoginKeepsWorking) {
    std::vector<std::string> refreshTokens;
    for (int login = 0; login < 7; ++login) refreshTokens.push_back(refreshTokenOf(client_.login()));

    for (const std::string& refreshToken : refreshTokens) EXPECT_EQ(client_.refresh(refreshToken).status, 200);
}

TEST_F(RefreshTest, ConcurrentRefreshOfOneTokenIsAlreadyBeingProcessed) {
    changeSettings(R"({"refreshDelayMs": 500})");
    const std::string refreshToken = refreshTokenOf(client_.login());

    auto first = std::async(std::launch::async, [&] { return client_.refresh(refreshToken); });
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    const HttpReply second = client_.refresh(refreshToken);
    const HttpReply firstReply = first.get();

    EXPECT_EQ(firstReply.status, 200) << firstReply.body;
    expectRefused(second, "token request is already being processed");
    EXPECT_EQ(counter("maxConcurrentRefreshesPerToken"), 2);
    EXPECT_EQ(counter("maxPresentationsPerRefreshToken"), 2);
    EXPECT_EQ(counter("refreshCalls"), 2);
    EXPECT_EQ(client_.refresh(refreshToken).status, 200);
    EXPECT_EQ(counter("maxPresentationsPerRefreshToken"), 3);
}

TEST_F(RefreshTest, ConcurrentRefreshesOfDifferentTokensBothSucceed) {
    changeSettings(R"({"refreshDelayMs": 400})");
    const std::string one = refreshTokenOf(client_.login());
    const std::string other = refreshTokenOf(client_.login());

    const auto started = std::chrono::steady_clock::now();
    auto first = std::async(std::launch::async, [&] { return client_.refresh(one); });
    auto second = std::async(std::launch::async, [&] { return client_.refresh(other); });
    EXPECT_EQ(first.get().status, 200);
    EXPECT_EQ(second.get().status, 200);

    EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(400));
    EXPECT_EQ(counter("maxConcurrentRefreshes"), 2);
    EXPECT_EQ(counter("maxConcurrentRefreshesPerToken"), 1);
}

TEST_F(RefreshTest, ExpiringRefreshTokensByUserByOrganizationOrAll) {
    const std::string defaultUser = refreshTokenOf(client_.login());
    ASSERT_EQ(
        client_.control("/control/identity", R"({"userId": "005xx000002AbCd", "organizationId": "00Dxx0000002XyZ"})")
            .status,
        200);
    const std::string otherUser = refreshTokenOf(client_.login());

    const HttpReply byUser = client_.control("/control/refresh-tokens/expire", R"({"userId": "005xx000002AbCd"})");
    EXPECT_EQ(byUser.json()->getValue<int>("expired"), 1);
    expectRefused(client_.refresh(otherUser), "expired access/refresh token");
    EXPECT_EQ(client_.refresh(defaultUser).status, 200);

    const HttpReply byOrganization =
        client_.control("/control/refresh-tokens/expire", R"({"organizationId": "00Dxx0000001gPLEAY"})");
    EXPECT_EQ(byOrganization.json()->getValue<int>("expired"), 1);
    expectRefused(client_.refresh(defaultUser), "expired access/refresh token");

    const std::string fresh = refreshTokenOf(client_.login());
    EXPECT_EQ(client_.control("/control/refresh-tokens/expire", "{}").json()->getValue<int>("expired"), 1);
    expectRefused(client_.refresh(fresh), "expired access/refresh token");
    EXPECT_EQ(counter("activeRefreshTokens"), 0);
}

TEST_F(RefreshTest, DeactivatedUserIsInactive) {
    const std::string refreshToken = refreshTokenOf(client_.login());

    ASSERT_EQ(client_.control("/control/users/deactivate", R"({"userId": "005xx000001SvYb"})").status, 200);

    expectRefused(client_.refresh(refreshToken), "inactive user");
    ASSERT_EQ(client_.control("/control/identity", R"({"active": true})").status, 200);
    EXPECT_EQ(client_.refresh(refreshToken).status, 200);
}

TEST_F(RefreshTest, PasswordChangeFailsExistingTokensButNotANewLogin) {
    const std::string before = refreshTokenOf(client_.login());

    ASSERT_EQ(client_.control("/control/users/password-changed", R"({"userId": "005xx000001SvYbAAK"})").status, 200);

    expectRefused(client_.refresh(before), "authentication failure");
    EXPECT_EQ(client_.refresh(refreshTokenOf(client_.login())).status, 200);
}

TEST_F(RefreshTest, UnknownUserCannotBeDeactivated) {
    EXPECT_EQ(client_.control("/control/users/deactivate", R"({"userId": "005xx000009Nope"})").status, 404);
    EXPECT_EQ(client_.control("/control/users/password-changed", R"({"userId": "not an id"})").status, 400);
}

TEST_F(RefreshTest, CountsRefreshesPerOrganizationAndUser) {
    const std::string defaultUser = refreshTokenOf(client_.login());
    ASSERT_EQ(
        client_.control("/control/identity", R"({"userId": "005xx000002AbCd", "organizationId": "00Dxx0000002XyZ"})")
            .status,
        200);
    const std::string otherUser = refreshTokenOf(client_.login());

    client_.refresh(defaultUser);
    client_.refresh(defaultUser);
    client_.refresh(otherUser);
    client_.refresh("5Aep861unknown");

    const Poco::JSON::Object::Ptr counters = client_.counters();
    EXPECT_EQ(counters->getValue<Poco::Int64>("refreshCalls"), 4);
    const auto byOrganization = counters->getObject("refreshCallsByOrganization");
    EXPECT_EQ(byOrganization->getValue<Poco::Int64>("00Dxx0000001gPLEAY"), 2);
    EXPECT_EQ(byOrganization->getValue<Poco::Int64>("00Dxx0000002XyZEAU"), 1);
    const auto byUser = counters->getObject("refreshCallsByUser");
    EXPECT_EQ(byUser->getValue<Poco::Int64>("005xx000001SvYbAAK"), 2);
    EXPECT_EQ(byUser->size(), 2U);
}

}  // namespace
}  // namespace bridge::standin::test
