#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "bridge/services/TokenBroker.h"
#include "bridge/store/Store.h"

namespace bridge {

struct KeepAliveSettings {
    // A connection whose refresh token went unused this long is refreshed (salesforce.keepAliveHours).
    std::chrono::seconds idleAfter{24 * 3600};
    // How often to look for such connections.
    std::chrono::milliseconds checkEvery{3600 * 1000};
    // At most this many connections are refreshed per look; refreshed ones stop being idle and tried ones go to
    // the back of the queue, so the next look takes the next ones.
    int connectionsPerRound = 500;
};

// Salesforce may expire a refresh token that goes unused for a while: a background thread refreshes every
// connection idle for idleAfter, through the broker's single flight (lease, rotation and loss as for requests).
// Looks once on start and then every checkEvery; stops within one Salesforce call.
class KeepAlive {
public:
    KeepAlive(TokenBroker& broker, Store& store, KeepAliveSettings settings);
    ~KeepAlive();

    KeepAlive(const KeepAlive&) = delete;
    KeepAlive& operator=(const KeepAlive&) = delete;

    // Idempotent; returns once the thread has ended.
    void stop();

private:
    void run();
    void refreshIdleConnections();
    bool stopRequested();

    TokenBroker& broker_;
    Store& store_;
    const KeepAliveSettings settings_;
    std::mutex mutex_;
    std::condition_variable wakeUp_;
    bool stopping_ = false;
    std::thread thread_;  // last: starts once everything above is ready
};

}  // namespace bridge
