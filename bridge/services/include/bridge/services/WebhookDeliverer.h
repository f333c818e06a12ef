#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "bridge/base/Metrics.h"
#include "bridge/salesforce/SalesforceTransport.h"
#include "bridge/store/Store.h"

namespace bridge {

struct WebhookSettings {
    std::string url;     // https, or http to a loopback host (checked when the configuration is read)
    std::string secret;  // the HMAC key; never logged
    std::chrono::milliseconds timeout{5000};               // one attempt as a whole
    std::chrono::milliseconds retryInitial{1000};          // the delay after the first failed attempt, doubling
    std::chrono::milliseconds retryMax{600 * 1000};        // the doubling stops here
    std::chrono::milliseconds retryFor{24 * 3600 * 1000};  // after this since the event, a failure abandons it
    std::chrono::milliseconds poll{500};                   // how often the deliverer looks for due notifications
    std::string instanceId;                                // names this instance in the delivery lease
};

// The delay before the next attempt after `failedAttempts` (1 or more) failed ones: retryInitial doubling per
// failure, at most retryMax.
std::chrono::milliseconds webhookRetryDelay(const WebhookSettings& settings, int failedAttempts);

// The JSON the receiver gets for one attempt (no token ever): id, type, legacyOrgId, profileId, environment,
// reason (null on recovery), occurredAt, users, sentAt (RFC 3339, UTC; sentAt is this attempt's time).
std::string webhookBody(const Notification& notification, UnixSeconds sentAt);
// "sha256=" and the lowercase hex HMAC-SHA256 of the body under the secret: the X-Bridge-Signature header.
std::string webhookSignature(const std::string& secret, const std::string& body);

// Delivers the outbox (docs/decisions.md, "Webhook notifications"): one background thread per instance that works
// only while it holds the store's delivery lease, so one instance of the fleet delivers at a time. Each
// organization's notifications go strictly in order (the store lists only the head of each queue). A 2xx answer
// delivers; anything else is a failed attempt, tried again after webhookRetryDelay, and abandoned once it fails
// retryFor after the event. Each attempt is bounded by timeout, and so is stop().
class WebhookDeliverer {
public:
    WebhookDeliverer(Store& store, Metrics& metrics, WebhookSettings settings);
    ~WebhookDeliverer();

    WebhookDeliverer(const WebhookDeliverer&) = delete;
    WebhookDeliverer& operator=(const WebhookDeliverer&) = delete;

    // Idempotent; returns once the thread has ended (within one attempt) and the lease is released.
    void stop();

private:
    void run();
    // One look: while the lease is held, delivers every due head of a queue; returns how many attempts it made.
    int deliverDue();
    // Makes one attempt and records it; false when the lease was lost meanwhile (the record is not written).
    bool attempt(const Notification& notification);
    bool holdLease();
    bool stopRequested();

    Store& store_;
    const WebhookSettings settings_;
    const SalesforceTransport transport_;
    const std::string leaseOwner_;
    // The lease outlasts one attempt with room for the store round trips around it, and is renewed before each.
    const std::chrono::milliseconds leaseDuration_;
    Metrics::Counter& delivered_;
    Metrics::Counter& failed_;
    Metrics::Counter& abandoned_;
    std::mutex mutex_;
    std::condition_variable wakeUp_;
    bool stopping_ = false;
    std::thread thread_;  // last: starts once everything above is ready
};

}  // namespace bridge
