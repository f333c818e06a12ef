// The webhook deliverer against a SQLite store and a real HTTP receiver on loopback (testsupport::WebhookReceiver):
// the backoff, the signed payload, abandonment after retryFor, the per-organization order, and a stop() that a
// hanging receiver cannot hold up beyond one attempt's timeout.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "bridge/base/Metrics.h"
#include "bridge/services/NotificationOutbox.h"
#include "bridge/services/WebhookDeliverer.h"
#include "bridge/store/PublicIds.h"
#include "bridge/store/StoreFactory.h"
#include "migrations/SchemaCatalog.h"
#include "testsupport/TestDirectory.h"
#include "testsupport/WebhookReceiver.h"

namespace bridge {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testsupport::WebhookReceiver;

const std::string kSecret = "webhook-deliverer-test-secret-of-at-least-32-bytes";

WebhookSettings settingsFor(const WebhookReceiver& receiver) {
    WebhookSettings settings;
    settings.url = receiver.url();
    settings.secret = kSecret;
    settings.timeout = 300ms;
    settings.retryInitial = 50ms;
    settings.retryMax = 200ms;
    settings.poll = 20ms;
    settings.instanceId = "deliverer-test";
    return settings;
}

class WebhookDelivererTest : public ::testing::Test {
protected:
    void SetUp() override {
        directory_ = testsupport::freshTestDirectory("webhook-deliverer");
        store_ = openStore("sqlite:" + (directory_ / "store.db").string(), 4);
        migrations::upgradeSchema(*store_);
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(directory_);
    }

    // Connects the organization if it is not, loses the connection if it is: one notification either way.
    void transition(std::int64_t orgId) {
        const Connection current = store_->loadConnection(orgId);
        ConnectionTransition transition;
        transition.expectedVersion = current.version;
        transition.next = current;
        transition.next.orgId = orgId;
        transition.next.environment = Environment::Production;
        transition.next.statusChangedAt = 1'700'000'000;
        const bool connected = current.status == ConnectionStatus::Connected;
        transition.next.status = connected ? ConnectionStatus::Disconnected : ConnectionStatus::Connected;
        const NotificationOutbox outbox(true);
        transition.notification =
            connected ? outbox.lost(transition.next, "invalid_grant") : outbox.recovered(transition.next);
        ASSERT_TRUE(store_->applyTransition(transition));
    }

    Notification only(std::int64_t orgId) {
        const auto listed = store_->listNotifications(orgId, std::numeric_limits<std::int64_t>::max(), 10);
        EXPECT_EQ(listed.size(), 1u);
        return listed.empty() ? Notification{} : listed.front();
    }

    std::filesystem::path directory_;
    std::unique_ptr<Store> store_;
    Metrics metrics_;
};

TEST(WebhookRetryDelay, DoublesFromTheInitialDelayUpToTheCap) {
    WebhookSettings settings;
    settings.retryInitial = 1000ms;
    settings.retryMax = 600'000ms;
    EXPECT_EQ(webhookRetryDelay(settings, 1), 1000ms);
    EXPECT_EQ(webhookRetryDelay(settings, 2), 2000ms);
    EXPECT_EQ(webhookRetryDelay(settings, 3), 4000ms);
    EXPECT_EQ(webhookRetryDelay(settings, 10), 512'000ms);
    EXPECT_EQ(webhookRetryDelay(settings, 11), 600'000ms);
    EXPECT_EQ(webhookRetryDelay(settings, 1000), 600'000ms);  // no overflow however many failures
}

TEST(WebhookPayload, CarriesTheEventAndNoMoreAndItsSignatureIsTheHmacOfTheBody) {
    Notification notification;
    notification.id = "evt_1";
    notification.orgId = 1042;
    notification.type = NotificationType::ConnectionLost;
    notification.environment = Environment::Sandbox;
    notification.reason = "invalid_grant";
    notification.occurredAt = 1'773'480'413;  // 2026-03-14T09:26:53Z
    notification.users = 7;
    const std::string body = webhookBody(notification, 1'773'480'414);
    EXPECT_EQ(body, R"({"id":"evt_1","type":"connection_lost","legacyOrgId":1042,"profileId":")" + profileIdFor(1042) +
                        R"(","environment":"sandbox","reason":"invalid_grant","occurredAt":"2026-03-14T09:26:53Z",)"
                        R"("users":7,"sentAt":"2026-03-14T09:26:54Z"})");
    // RFC 4231 test case 2: HMAC-SHA256 of "what do ya want for nothing?" under "Jefe".
    EXPECT_EQ(webhookSignature("Jefe", "what do ya want for nothing?"),
              "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    notification.type = NotificationType::ConnectionRecovered;
    notification.reason.reset();
    EXPECT_NE(webhookBody(notification, 1'773'480'414).find(R"("type":"connection_recovered")"), std::string::npos);
    EXPECT_NE(webhookBody(notification, 1'773'480'414).find(R"("reason":null)"), std::string::npos);
}

TEST_F(WebhookDelivererTest, DeliversASignedEventTheReceiverAcceptsAndRecordsIt) {
    WebhookReceiver receiver(kSecret);
    const std::int64_t orgId = store_->createOrganization("Acme", 2'000'000'000).legacyId;
    transition(orgId);
    WebhookDeliverer deliverer(*store_, metrics_, settingsFor(receiver));

    const auto acknowledged = receiver.waitForAcknowledged(1, 5s);
    ASSERT_EQ(acknowledged.size(), 1u);
    EXPECT_TRUE(acknowledged[0].authentic);
    EXPECT_EQ(acknowledged[0].type, "connection_recovered");
    const auto deadline = Clock::now() + 5s;
    while (only(orgId).state != DeliveryState::Delivered && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
    const Notification delivered = only(orgId);
    EXPECT_EQ(delivered.state, DeliveryState::Delivered);
    EXPECT_EQ(delivered.id, acknowledged[0].id);
    EXPECT_EQ(delivered.attempts, 1);
    EXPECT_TRUE(delivered.deliveredAtMs);
    EXPECT_NE(metrics_.render().find(R"(bridge_webhook_deliveries_total{result="delivered"} 1)"), std::string::npos)
        << metrics_.render();
}

TEST_F(WebhookDelivererTest, AReceiverWithAnotherSecretRefusesEveryAttempt) {
    WebhookReceiver receiver("a-different-secret-that-is-also-32-bytes-long");
    const std::int64_t orgId = store_->createOrganization("Acme", 2'000'000'000).legacyId;
    transition(orgId);
    WebhookDeliverer deliverer(*store_, metrics_, settingsFor(receiver));
    const auto requests = receiver.waitForRequests(2, 5s);
    ASSERT_GE(requests.size(), 2u);
    for (const auto& request : requests) EXPECT_FALSE(request.authentic);
    deliverer.stop();
    EXPECT_EQ(only(orgId).state, DeliveryState::Pending);
    EXPECT_EQ(only(orgId).lastError, "HTTP 401");
}

TEST_F(WebhookDelivererTest, AFailingEventIsAbandonedAfterRetryForAndTheNextOfItsOrganizationGoesOn) {
    WebhookReceiver receiver(kSecret);
    receiver.setMode(WebhookReceiver::Mode::Fail);
    const std::int64_t orgId = store_->createOrganization("Acme", 2'000'000'000).legacyId;
    transition(orgId);  // recovered: the first of the organization
    transition(orgId);  // lost: waits behind the first
    WebhookSettings settings = settingsFor(receiver);
    settings.retryFor = 600ms;
    WebhookDeliverer deliverer(*store_, metrics_, settings);

    auto listed = [&] { return store_->listNotifications(orgId, std::numeric_limits<std::int64_t>::max(), 10); };
    const auto deadline = Clock::now() + 5s;
    while (listed().front().state == DeliveryState::Pending && Clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    const auto notifications = listed();  // newest first
    const Notification& first = notifications[1];
    const Notification& second = notifications[0];
    EXPECT_EQ(first.state, DeliveryState::Abandoned);
    EXPECT_GE(first.attempts, 4);  // 50, 100, 200, 200 ms apart until 600 ms had passed
    EXPECT_EQ(first.lastError, "HTTP 500");
    // The second was tried only once the first was given up; as old as the first by then, its one failure
    // abandoned it too.
    EXPECT_EQ(second.state, DeliveryState::Abandoned);
    EXPECT_EQ(second.attempts, 1);
    const auto requests = receiver.requests();
    ASSERT_EQ(requests.size(), static_cast<std::size_t>(first.attempts + 1));
    for (std::size_t i = 0; i + 1 < requests.size(); ++i) EXPECT_EQ(requests[i].type, "connection_recovered");
    EXPECT_EQ(requests.back().type, "connection_lost");
    EXPECT_NE(metrics_.render().find(R"(bridge_webhook_deliveries_total{result="abandoned"} 2)"), std::string::npos)
        << metrics_.render();
}

TEST_F(WebhookDelivererTest, StopReturnsWithinOneAttemptWhileTheReceiverHangs) {
    WebhookReceiver receiver(kSecret);
    receiver.setMode(WebhookReceiver::Mode::Hang);
    const std::int64_t orgId = store_->createOrganization("Acme", 2'000'000'000).legacyId;
    transition(orgId);
    WebhookSettings settings = settingsFor(receiver);
    settings.timeout = 1000ms;
    auto deliverer = std::make_unique<WebhookDeliverer>(*store_, metrics_, settings);
    ASSERT_EQ(receiver.waitForRequests(1, 5s).size(), 1u);

    const auto stopping = Clock::now();
    deliverer->stop();
    EXPECT_LT(Clock::now() - stopping, 1500ms);
    EXPECT_EQ(only(orgId).state, DeliveryState::Pending);
    // The lease was released: another deliverer takes over at once and delivers.
    receiver.setMode(WebhookReceiver::Mode::Acknowledge);
    deliverer = std::make_unique<WebhookDeliverer>(*store_, metrics_, settingsFor(receiver));
    ASSERT_EQ(receiver.waitForAcknowledged(1, 3s).size(), 1u);
}

}  // namespace
}  // namespace bridge
