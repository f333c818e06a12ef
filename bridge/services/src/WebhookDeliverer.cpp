#include "bridge/services/WebhookDeliverer.h"

#include <Poco/JSON/Object.h>

#include <algorithm>
#include <exception>
#include <sstream>

#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"
#include "bridge/base/WallClock.h"
#include "bridge/crypto/Secrets.h"
#include "bridge/store/PublicIds.h"
#include "mappings/ConnectionNames.h"
#include "mappings/Times.h"

namespace bridge {

namespace {

// Due notifications taken per look; the next look follows at once when a look was busy.
constexpr int kNotificationsPerLook = 100;

}  // namespace

std::chrono::milliseconds webhookRetryDelay(const WebhookSettings& settings, int failedAttempts) {
    std::chrono::milliseconds delay = settings.retryInitial;
    for (int failure = 1; failure < failedAttempts && delay < settings.retryMax; ++failure) delay *= 2;
    return std::min(delay, settings.retryMax);
}

std::string webhookBody(const Notification& notification, UnixSeconds sentAt) {
    Poco::JSON::Object body(Poco::JSON_PRESERVE_KEY_ORDER);
    body.set("id", notification.id);
    body.set("type", std::string(notificationTypeName(notification.type)));
    body.set("legacyOrgId", Poco::Int64{notification.orgId});
    body.set("profileId", profileIdFor(notification.orgId));
    if (notification.environment) {
        body.set("environment", std::string(mappings::environmentName(*notification.environment)));
    } else {
        body.set("environment", Poco::Dynamic::Var());
    }
    if (notification.reason) {
        body.set("reason", *notification.reason);
    } else {
        body.set("reason", Poco::Dynamic::Var());
    }
    body.set("occurredAt", mappings::formatRfc3339(notification.occurredAt));
    body.set("users", Poco::Int64{notification.users});
    body.set("sentAt", mappings::formatRfc3339(sentAt));
    std::ostringstream out;
    body.stringify(out);
    return out.str();
}

std::string webhookSignature(const std::string& secret, const std::string& body) {
    return "sha256=" + hmacSha256Hex(secret, body);
}

WebhookDeliverer::WebhookDeliverer(Store& store, Metrics& metrics, WebhookSettings settings)
    : store_(store),
      settings_(std::move(settings)),
      transport_(settings_.timeout),
      leaseOwner_(settings_.instanceId + "/webhook/" + base64UrlEncode(randomBytes(6))),
      leaseDuration_(2 * settings_.timeout + std::chrono::seconds(1)),
      delivered_(metrics.counter("bridge_webhook_deliveries_total", "result=\"delivered\"")),
      failed_(metrics.counter("bridge_webhook_deliveries_total", "result=\"failed\"")),
      abandoned_(metrics.counter("bridge_webhook_deliveries_total", "result=\"abandoned\"")),
      thread_([this] { run(); }) {}

WebhookDeliverer::~WebhookDeliverer() { stop(); }

void WebhookDeliverer::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    wakeUp_.notify_all();
    if (!thread_.joinable()) return;
    thread_.join();
    // Another instance takes over at its next look instead of after the lease's end.
    try {
        store_.releaseDeliveryLease(leaseOwner_);
    } catch (const Error& error) {
        logger("webhook")->warn("delivery lease not released (it expires by itself): {}", error.what());
    }
}

bool WebhookDeliverer::stopRequested() {
    std::lock_guard lock(mutex_);
    return stopping_;
}

void WebhookDeliverer::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        int attempts = 0;
        try {
            attempts = deliverDue();
        } catch (const std::exception& error) {
            // A thread of its own: anything escaping would end the process. The store being away is the usual.
            logger("webhook")->warn("webhook delivery paused: {}", error.what());
        }
        lock.lock();
        // A busy look is followed by the next at once: the next notification of an organization just delivered
        // is due now.
        if (attempts == 0) wakeUp_.wait_for(lock, settings_.poll, [this] { return stopping_; });
    }
}

bool WebhookDeliverer::holdLease() { return store_.tryAcquireDeliveryLease(leaseOwner_, leaseDuration_); }

int WebhookDeliverer::deliverDue() {
    if (!holdLease()) return 0;
    int attempts = 0;
    for (const Notification& notification :
         store_.listDueNotifications(WallClock::unixMillis(), kNotificationsPerLook)) {
        if (stopRequested()) break;
        // Renewed before each attempt: the lease then outlasts the attempt and its record.
        if (!holdLease() || !attempt(notification)) break;
        ++attempts;
    }
    return attempts;
}

bool WebhookDeliverer::attempt(const Notification& notification) {
    const auto log = logger("webhook");
    const UnixMillis sentAtMs = WallClock::unixMillis();
    const UnixSeconds sentAt = sentAtMs / 1000;
    const std::string body = webhookBody(notification, sentAt);
    const HttpHeaders headers{{"X-Bridge-Timestamp", std::to_string(sentAt)},
                              {"X-Bridge-Signature", webhookSignature(settings_.secret, body)}};
    const SalesforceResult<SalesforceResponse> answer = transport_.postJson(settings_.url, body, headers);

    DeliveryAttempt attempt;
    attempt.sequence = notification.sequence;
    attempt.leaseOwner = leaseOwner_;
    attempt.atMs = sentAtMs;
    const bool accepted = answer.succeeded() && answer.value().status >= 200 && answer.value().status < 300;
    if (accepted) {
        attempt.outcome = DeliveryState::Delivered;
        attempt.nextAttemptAtMs = sentAtMs;
    } else {
        // An HTTP status or the transport's short reason (timeout, connection_failed, ...); never a body.
        attempt.error = answer.succeeded() ? "HTTP " + std::to_string(answer.value().status) : answer.failure().error;
        const int failedAttempts = notification.attempts + 1;
        const bool givingUp = sentAtMs - notification.createdAtMs >= settings_.retryFor.count();
        attempt.outcome = givingUp ? DeliveryState::Abandoned : DeliveryState::Pending;
        attempt.nextAttemptAtMs = sentAtMs + webhookRetryDelay(settings_, failedAttempts).count();
    }
    if (!store_.recordDeliveryAttempt(attempt)) {
        log->warn("delivery lease lost during the attempt on notification {}; another instance goes on",
                  notification.id);
        return false;
    }
    switch (attempt.outcome) {
        case DeliveryState::Delivered:
            delivered_.increment();
            log->info("notification {} ({}) of organization {} delivered after {} attempt(s)", notification.id,
                      notificationTypeName(notification.type), notification.orgId, notification.attempts + 1);
            break;
        case DeliveryState::Pending:
            failed_.increment();
            log->warn("notification {} of organization {}: attempt {} failed ({}), next in {} ms", notification.id,
                      notification.orgId, notification.attempts + 1, *attempt.error,
                      attempt.nextAttemptAtMs - sentAtMs);
            break;
        case DeliveryState::Abandoned:
            abandoned_.increment();
            log->error("notification {} ({}) of organization {} abandoned after {} attempt(s), the last: {}",
                       notification.id, notificationTypeName(notification.type), notification.orgId,
                       notification.attempts + 1, *attempt.error);
            break;
    }
    return true;
}

}  // namespace bridge
