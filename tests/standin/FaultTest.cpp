#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>

#include <chrono>
#include <future>
#include <thread>

#include "StandinServerTest.h"

namespace bridge::standin::test {
namespace {

class FaultTest : public StandinServerTest {
protected:
    void SetUp() override { refreshToken_ = client_.login()->getValue<std::string>("refresh_token"); }

    void inject(const std::string& json) const {
        ASSERT_EQ(client_.control("/control/faults", json).status, 200) << json;
    }

    std::string refreshToken_;
};

TEST_F(FaultTest, Status500AnswersAnHtmlServerError) {
    inject(R"({"kind": "status500"})");

    const HttpReply reply = client_.refresh(refreshToken_);

    EXPECT_EQ(reply.status, 500);
    EXPECT_NE(reply.contentType.find("text/html"), std::string::npos);
    EXPECT_NE(reply.body.find("<html>"), std::string::npos);
    EXPECT_EQ(client_.refresh(refreshToken_).status, 200);
    EXPECT_EQ(counter("faultsServed"), 1);
}

TEST_F(FaultTest, Status500CanBeA503) {
    inject(R"({"kind": "status500", "status": 503})");

    EXPECT_EQ(client_.refresh(refreshToken_).status, 503);
}

TEST_F(FaultTest, NonJsonAnswers200WithHtml) {
    inject(R"({"kind": "nonJson"})");

    const HttpReply reply = client_.refresh(refreshToken_);

    EXPECT_EQ(reply.status, 200);
    EXPECT_NE(reply.contentType.find("text/html"), std::string::npos);
    EXPECT_THROW(reply.json(), Poco::Exception);
}

TEST_F(FaultTest, DropClosesTheConnectionWithoutAnAnswer) {
    inject(R"({"kind": "drop"})");

    EXPECT_THROW(client_.refresh(refreshToken_), Poco::Net::NoMessageException);
    EXPECT_EQ(client_.refresh(refreshToken_).status, 200);
}

TEST_F(FaultTest, HangSaysNothingForHangMsThenDrops) {
    inject(R"({"kind": "hang", "hangMs": 600})");

    const auto started = std::chrono::steady_clock::now();
    EXPECT_THROW(client_.refresh(refreshToken_), Poco::Net::NoMessageException);
    EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(600));
}

TEST_F(FaultTest, HangOutlastsAClientTimeout) {
    inject(R"({"kind": "hang", "hangMs": 5000})");

    const std::string tokenUrl = server_.baseUrl() + "/services/oauth2/token";
    EXPECT_THROW(httpPostForm(tokenUrl,
                              {{"grant_type", "refresh_token"},
                               {"refresh_token", refreshToken_},
                               {"client_id", "bridge-demo-client"},
                               {"client_secret", "bridge-demo-secret"}},
                              {}, std::chrono::milliseconds(300)),
                 Poco::TimeoutException);
}

TEST_F(FaultTest, HangGivesUpWhenTheServerStops) {
    inject(R"({"kind": "hang"})");  // 30 s by default

    const auto started = std::chrono::steady_clock::now();
    auto hanging = std::async(std::launch::async, [&] { return client_.refresh(refreshToken_); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    server_.stop();

    EXPECT_THROW(hanging.get(), Poco::Exception);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST_F(FaultTest, ProcessingAnswersTheTransientInvalidGrant) {
    inject(R"({"kind": "processing"})");

    const HttpReply reply = client_.refresh(refreshToken_);

    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(reply.json()->getValue<std::string>("error"), "invalid_grant");
    EXPECT_EQ(reply.json()->getValue<std::string>("error_description"), "token request is already being processed");
}

TEST_F(FaultTest, InvalidGrantCarriesTheGivenDescription) {
    inject(R"({"kind": "invalidGrant", "description": "ip restricted or invalid login hours"})");

    const HttpReply reply = client_.refresh(refreshToken_);

    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(reply.body, R"({"error":"invalid_grant","error_description":"ip restricted or invalid login hours"})");
    EXPECT_EQ(client_.refresh(refreshToken_).status, 200);
}

TEST_F(FaultTest, InvalidClientAnswersInvalidClientCredentials) {
    inject(R"({"kind": "invalidClient"})");

    const HttpReply reply = client_.refresh(refreshToken_);

    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(reply.body, R"({"error":"invalid_client","error_description":"invalid client credentials"})");
}

TEST_F(FaultTest, CountServesTheFaultThatManyTimesInOrder) {
    inject(R"({"kind": "status500", "count": 2})");
    inject(R"({"kind": "processing"})");

    EXPECT_EQ(client_.refresh(refreshToken_).status, 500);
    EXPECT_EQ(client_.refresh(refreshToken_).status, 500);
    EXPECT_EQ(client_.refresh(refreshToken_).json()->getValue<std::string>("error_description"),
              "token request is already being processed");
    EXPECT_EQ(client_.refresh(refreshToken_).status, 200);
    EXPECT_EQ(counter("faultsServed"), 3);
}

TEST_F(FaultTest, GrantLimitsTheFaultToOneGrantType) {
    inject(R"({"kind": "status500", "grant": "refresh_token"})");

    EXPECT_EQ(client_.exchangeCode(client_.authorizeForCode()).status, 200);
    EXPECT_EQ(client_.refresh(refreshToken_).status, 500);

    inject(R"({"kind": "drop", "grant": "authorization_code"})");
    EXPECT_EQ(client_.refresh(refreshToken_).status, 200);
    EXPECT_THROW(client_.exchangeCode(client_.authorizeForCode()), Poco::Net::NoMessageException);
}

TEST_F(FaultTest, FaultsHitTheCodeExchangeToo) {
    inject(R"({"kind": "invalidGrant", "description": "authentication failure"})");

    const HttpReply reply = client_.exchangeCode(client_.authorizeForCode());

    EXPECT_EQ(reply.status, 400);
    EXPECT_EQ(reply.json()->getValue<std::string>("error_description"), "authentication failure");
}

TEST_F(FaultTest, MalformedFaultsAreRefused) {
    EXPECT_EQ(client_.control("/control/faults", R"({"kind": "explode"})").status, 400);
    EXPECT_EQ(client_.control("/control/faults", R"({"kind": "drop", "count": 0})").status, 400);
    EXPECT_EQ(client_.control("/control/faults", R"({"kind": "drop", "grant": "password"})").status, 400);
    EXPECT_EQ(client_.control("/control/faults", R"({"count": 1})").status, 400);
    EXPECT_EQ(client_.control("/control/faults", "not json").status, 400);
    EXPECT_EQ(client_.refresh(refreshToken_).status, 200);
}

}  // namespace
}  // namespace bridge::standin::test
