#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "bridge/services/TokenBroker.h"

namespace bridge {

// Keeps the broker following the store's access-token invalidations: a background thread calls
// TokenBroker::followInvalidations every BrokerSettings::invalidationPoll, so that the broker's grants need not read
// them (see TokenBroker). stop() withdraws the instance from the store's record, so that invalidations stop waiting for
// it.
class InvalidationFollower {
public:
    explicit InvalidationFollower(TokenBroker& broker);
    ~InvalidationFollower();

    InvalidationFollower(const InvalidationFollower&) = delete;
    InvalidationFollower& operator=(const InvalidationFollower&) = delete;

    // Idempotent; returns once the thread has ended (within one store round trip).
    void stop();

private:
    void run();

    TokenBroker& broker_;
    const std::chrono::milliseconds poll_;
    std::mutex mutex_;
    std::condition_variable wakeUp_;
    bool stopping_ = false;
    std::thread thread_;  // last: starts once everything above is ready
};

}  // namespace bridge
