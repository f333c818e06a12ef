// Webhook notifications end to end (issue 18): a whole server in-process with its webhook pointed at a real HTTP
// receiver on loopback (testsupport::WebhookReceiver). A connection lost through the broker (the stand-in refuses
// the refresh token with invalid_grant) and recovered by a fresh login is posted, signed, with the fields the issue
// names and no token, and GET /api/v2/profiles/{id}/notifications shows where each delivery stands; a receiver that
// fails, then hangs, then recovers gets every event in order after growing delays.
#include <Poco/JSON/Array.h>
#include <Poco/URI.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ServerHarness.h"
#include "bridge/store/PublicIds.h"
#include "testsupport/WebhookReceiver.h"

namespace bridge::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testsupport::WebhookReceiver;

const std::string kSecret = "webhook-integration-test-secret-of-40-bytes";
const std::string kAccessTokenPath = "/internal/v1/salesforce/access-token";

std::string forLegacyUser(std::int64_t legacyUserId) {
    return R"({"legacyUserId": )" + std::to_string(legacyUserId) + R"(, "client": "sync"})";
}

class WebhookTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        receiver_ = new WebhookReceiver(kSecret);
        ServerHarness::Options options;
        NotifyConfig notify;
        notify.webhookUrl = receiver_->url();
        notify.secret = kSecret;
        notify.timeout = 400ms;
        notify.retryInitial = 100ms;
        notify.poll = 20ms;
        options.notify = notify;
        server_ = new ServerHarness(options);
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
        delete receiver_;
        receiver_ = nullptr;
    }
    void SetUp() override {
        server().salesforce().reset();
        receiver().setMode(WebhookReceiver::Mode::Acknowledge);
        receiver().clear();
        support_ = server().supportToken();
    }

    static ServerHarness& server() { return *server_; }
    static WebhookReceiver& receiver() { return *receiver_; }
    static std::string profilePath(std::int64_t orgId) { return "/api/v2/profiles/" + profileIdFor(orgId); }

    void seed(std::int64_t orgId, int users) {
        server().seedOrganization(orgId, "Organization " + std::to_string(orgId), users, orgId * 10);
    }
    void logIn(const std::string& path) {
        const HttpResult started = server().call("POST", path, support_);
        ASSERT_EQ(started.status, 200) << started.body;
        const std::string redirect =
            server().salesforce().followAuthorization(started.json()->getValue<std::string>("authorizationUrl"));
        const HttpResult finished = server().call("GET", Poco::URI(redirect).getPathAndQuery(), "");
        ASSERT_EQ(finished.status, 302) << finished.body;
        ASSERT_NE(finished.header("Location").find("connectivity=connected"), std::string::npos)
            << finished.header("Location");
    }
    void connect(std::int64_t orgId) {
        const std::string digits = std::to_string(orgId);
        const std::string padded = std::string(12 - digits.size(), '0') + digits;
        server().salesforce().setIdentity({.userId = "005" + padded,
                                           .organizationId = "00D" + padded,
                                           .username = "svc-" + digits + "@webhook.example",
                                           .email = "svc-" + digits + "@webhook.example"});
        logIn(profilePath(orgId) + "/connectivity/crm/login");
    }
    void recover(std::int64_t orgId) { logIn(profilePath(orgId) + "/connectivity/crm/refresh"); }
    // Salesforce expires the refresh token; the sync engine's next request finds out (409 SYNC_SUSPENDED).
    void lose(std::int64_t orgId) {
        const std::string syncEngine = server().syncEngineToken();
        const HttpResult granted = server().call("POST", kAccessTokenPath, syncEngine, forLegacyUser(orgId * 10));
        ASSERT_EQ(granted.status, 200) << granted.body;
        handedOut_.insert(granted.json()->getValue<std::string>("accessToken"));
        ASSERT_EQ(server().salesforce().expireRefreshTokens(), 1);
        ASSERT_EQ(server()
                      .call("POST", kAccessTokenPath + "/invalidate", syncEngine,
                            R"({"legacyUserId": )" + std::to_string(orgId * 10) + "}")
                      .status,
                  204);
        const HttpResult refused = server().call("POST", kAccessTokenPath, syncEngine, forLegacyUser(orgId * 10));
        ASSERT_EQ(refused.status, 409) << refused.body;
    }
    // The notifications endpoint's items, newest first.
    Poco::JSON::Array::Ptr notifications(std::int64_t orgId) {
        const HttpResult answer = server().call("GET", profilePath(orgId) + "/notifications?limit=50", support_);
        EXPECT_EQ(answer.status, 200) << answer.body;
        return answer.json()->getArray("items");
    }
    // Waits until every notification of the organization is delivered (or the deadline passes).
    Poco::JSON::Array::Ptr deliveredNotifications(std::int64_t orgId, std::size_t count) {
        const auto deadline = Clock::now() + 10s;
        for (;;) {
            const auto items = notifications(orgId);
            bool all = items->size() == count;
            for (std::size_t i = 0; all && i < items->size(); ++i) {
                all = items->getObject(i)->getValue<std::string>("state") == "delivered";
            }
            if (all || Clock::now() > deadline) return items;
            std::this_thread::sleep_for(20ms);
        }
    }
    void expectNoToken(const std::string& body) {
        EXPECT_FALSE(std::regex_search(body, std::regex("00D[0-9A-Za-z]{12}!|5Aep"))) << body;
        for (const std::string& token : handedOut_) EXPECT_EQ(body.find(token), std::string::npos) << body;
    }

    std::string support_;
    std::set<std::string> handedOut_;

private:
    static inline ServerHarness* server_ = nullptr;
    static inline WebhookReceiver* receiver_ = nullptr;
};

TEST_F(WebhookTest, LossAndRecoveryArePostedSignedWithTheirFieldsAndShownDelivered) {
    constexpr std::int64_t kOrg = 5101;
    seed(kOrg, 3);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    EXPECT_TRUE(receiver().requests().empty()) << "a first login is no recovery";

    ASSERT_NO_FATAL_FAILURE(lose(kOrg));
    auto acknowledged = receiver().waitForAcknowledged(1, 5s);
    ASSERT_EQ(acknowledged.size(), 1u);
    const WebhookReceiver::Request lost = acknowledged[0];
    EXPECT_TRUE(lost.authentic);
    ASSERT_TRUE(lost.json);
    EXPECT_EQ(lost.type, "connection_lost");
    EXPECT_EQ(lost.json->getValue<std::int64_t>("legacyOrgId"), kOrg);
    EXPECT_EQ(lost.json->getValue<std::string>("profileId"), profileIdFor(kOrg));
    EXPECT_EQ(lost.json->getValue<std::string>("environment"), "production");
    EXPECT_EQ(lost.json->getValue<std::string>("reason"), "invalid_grant");
    EXPECT_EQ(lost.json->getValue<int>("users"), 3);
    const std::regex rfc3339(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");
    EXPECT_TRUE(std::regex_match(lost.json->getValue<std::string>("occurredAt"), rfc3339)) << lost.body;
    EXPECT_TRUE(std::regex_match(lost.json->getValue<std::string>("sentAt"), rfc3339)) << lost.body;
    EXPECT_EQ(lost.json->size(), 9u) << lost.body;  // id, type, legacyOrgId, profileId, environment, reason,
                                                    // occurredAt, users, sentAt: nothing else
    expectNoToken(lost.body);

    auto items = deliveredNotifications(kOrg, 1);
    ASSERT_EQ(items->size(), 1u);
    const auto shown = items->getObject(0);
    EXPECT_EQ(shown->getValue<std::string>("id"), lost.id);
    EXPECT_EQ(shown->getValue<std::string>("type"), "connection_lost");
    EXPECT_EQ(shown->getValue<std::string>("state"), "delivered");
    EXPECT_EQ(shown->getValue<int>("attempts"), 1);
    EXPECT_EQ(shown->getValue<std::string>("occurredAt"), lost.json->getValue<std::string>("occurredAt"));
    EXPECT_TRUE(std::regex_match(shown->getValue<std::string>("deliveredAt"), rfc3339));
    EXPECT_TRUE(std::regex_match(shown->getValue<std::string>("lastAttemptAt"), rfc3339));
    EXPECT_TRUE(shown->isNull("nextAttemptAt"));
    EXPECT_TRUE(shown->isNull("lastError"));

    ASSERT_NO_FATAL_FAILURE(recover(kOrg));
    acknowledged = receiver().waitForAcknowledged(2, 5s);
    ASSERT_EQ(acknowledged.size(), 2u);
    const WebhookReceiver::Request recovered = acknowledged[1];
    EXPECT_TRUE(recovered.authentic);
    EXPECT_EQ(recovered.type, "connection_recovered");
    EXPECT_NE(recovered.id, lost.id);
    EXPECT_EQ(recovered.json->getValue<int>("users"), 3);
    EXPECT_TRUE(recovered.json->isNull("reason"));
    expectNoToken(recovered.body);
    items = deliveredNotifications(kOrg, 2);
    ASSERT_EQ(items->size(), 2u);
    EXPECT_EQ(items->getObject(0)->getValue<std::string>("id"), recovered.id);  // newest first
    EXPECT_EQ(items->getObject(1)->getValue<std::string>("id"), lost.id);

    // Paged like every list; scoped like every profile endpoint: another organization's admin learns nothing.
    const HttpResult firstPage = server().call("GET", profilePath(kOrg) + "/notifications?limit=1", support_);
    ASSERT_EQ(firstPage.status, 200) << firstPage.body;
    EXPECT_EQ(firstPage.json()->getArray("items")->size(), 1u);
    EXPECT_FALSE(firstPage.json()->isNull("nextCursor"));
    const HttpResult foreign =
        server().call("GET", profilePath(kOrg) + "/notifications", server().orgAdminToken({kOrg + 1}));
    EXPECT_EQ(foreign.status, 404) << foreign.body;
    EXPECT_EQ(foreign.json()->getValue<std::string>("code"), "PROFILE_NOT_FOUND");
    const HttpResult absent = server().call("GET", profilePath(kOrg + 7) + "/notifications", support_);
    EXPECT_EQ(absent.status, 404) << absent.body;
    EXPECT_EQ(server().call("GET", profilePath(kOrg) + "/notifications", "").status, 401);
    EXPECT_EQ(server().call("GET", profilePath(kOrg) + "/notifications", server().syncEngineToken()).status, 403);
}

TEST_F(WebhookTest, FailingThenHangingReceiverGetsEveryEventInOrderAfterGrowingDelays) {
    constexpr std::int64_t kOrg = 5102;
    seed(kOrg, 2);
    ASSERT_NO_FATAL_FAILURE(connect(kOrg));
    receiver().setMode(WebhookReceiver::Mode::Fail);
    ASSERT_NO_FATAL_FAILURE(lose(kOrg));
    // Failed attempts 100 ms, then 200 ms, then 400 ms apart.
    auto requests = receiver().waitForRequests(3, 5s);
    ASSERT_EQ(requests.size(), 3u);
    const auto firstGap = requests[1].at - requests[0].at;
    const auto secondGap = requests[2].at - requests[1].at;
    EXPECT_GE(firstGap, 90ms);
    EXPECT_GE(secondGap, 190ms);
    EXPECT_GT(secondGap, firstGap);

    // The receiver hangs: the attempt times out (notify.timeoutMs); the recovery queues behind the loss meanwhile.
    receiver().setMode(WebhookReceiver::Mode::Hang);
    ASSERT_EQ(receiver().waitForRequests(4, 5s).size(), 4u);
    ASSERT_NO_FATAL_FAILURE(recover(kOrg));
    std::this_thread::sleep_for(500ms);  // past the hung attempt's timeout
    receiver().setMode(WebhookReceiver::Mode::Acknowledge);

    const auto acknowledged = receiver().waitForAcknowledged(2, 10s);
    ASSERT_EQ(acknowledged.size(), 2u);
    EXPECT_EQ(acknowledged[0].type, "connection_lost");
    EXPECT_EQ(acknowledged[1].type, "connection_recovered");
    requests = receiver().requests();
    // Every attempt before the loss's delivery is the loss's: the recovery waited its turn.
    std::size_t lossDeliveredAt = 0;
    while (!requests[lossDeliveredAt].acknowledged) {
        EXPECT_EQ(requests[lossDeliveredAt].id, acknowledged[0].id);
        EXPECT_TRUE(requests[lossDeliveredAt].authentic);
        ++lossDeliveredAt;
    }
    EXPECT_GE(lossDeliveredAt, 4u);

    const auto items = deliveredNotifications(kOrg, 2);
    ASSERT_EQ(items->size(), 2u);
    const auto loss = items->getObject(1);
    EXPECT_EQ(loss->getValue<std::string>("state"), "delivered");
    EXPECT_EQ(loss->getValue<std::size_t>("attempts"), lossDeliveredAt + 1);
    // The last failure before the delivery stays visible: the hung attempt's timeout (or a 500 after it).
    const std::string lastError = loss->getValue<std::string>("lastError");
    EXPECT_TRUE(lastError == "timeout" || lastError == "HTTP 500") << lastError;
    const HttpResult metrics = server().call("GET", "/metrics", "");
    EXPECT_NE(metrics.body.find("bridge_webhook_deliveries_total{result=\"failed\"}"), std::string::npos);
}

}  // namespace
}  // namespace bridge::testing
