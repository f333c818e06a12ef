#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "bridge/store/Store.h"

namespace bridge {

// Keeps the refresh leases this process holds alive while their refreshes are under way: every third of the lease
// duration it renews each one in the store, so that a refresh slower than the lease never loses it, and a holder
// that dies stops renewing and blocks the others for one lease duration at most. Thread-safe.
class LeaseRenewer {
public:
    using Clock = std::chrono::steady_clock;

    // One lease being renewed.
    struct Held {
        Held(std::int64_t orgId, std::string owner, Clock::time_point until)
            : orgId(orgId), owner(std::move(owner)), until(until.time_since_epoch().count()) {}

        const std::int64_t orgId;
        const std::string owner;
        // Until when the lease is surely held, by this host's steady clock: the start of the last take or renewal
        // that succeeded, plus the duration (the database's clock may only have started later).
        std::atomic<Clock::rep> until;
        std::atomic<bool> lost{false};  // a renewal found it expired or taken

        // The epoch once lost.
        Clock::time_point heldUntil() const {
            return lost ? Clock::time_point{} : Clock::time_point(Clock::duration(until.load()));
        }
    };

    LeaseRenewer(Store& store, std::chrono::milliseconds leaseDuration);
    ~LeaseRenewer();

    LeaseRenewer(const LeaseRenewer&) = delete;
    LeaseRenewer& operator=(const LeaseRenewer&) = delete;

    std::chrono::milliseconds leaseDuration() const { return leaseDuration_; }
    // Renews the lease from now on; `takenAt` is when the request that took it was sent.
    std::shared_ptr<Held> track(std::int64_t orgId, const std::string& owner, Clock::time_point takenAt);
    void untrack(const std::shared_ptr<Held>& held);
    // Ends the renewals (the leases then expire on their own); waits for a renewal under way.
    void stop();

private:
    void run();
    void renew(Held& held);

    Store& store_;
    const std::chrono::milliseconds leaseDuration_;
    std::mutex mutex_;
    std::condition_variable wakeUp_;
    bool stopping_ = false;
    std::set<std::shared_ptr<Held>> held_;
    std::thread thread_;  // last: starts once everything above exists
};

}  // namespace bridge
