#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "LeaseRenewer.h"
#include "bridge/store/Store.h"

namespace bridge {

// One attempt at an organization's refresh lease in the store, renewed by the renewer while it is held. Released
// when it goes out of scope, so that the other instances' waiters learn the outcome at once rather than when the
// lease would have expired.
class RefreshLease {
public:
    using Clock = LeaseRenewer::Clock;

    // owner must be unique per attempt: the store lets an owner take its own lease again.
    RefreshLease(Store& store, LeaseRenewer& renewer, std::int64_t orgId, std::string owner);
    ~RefreshLease();

    RefreshLease(const RefreshLease&) = delete;
    RefreshLease& operator=(const RefreshLease&) = delete;

    // True when this attempt now holds the lease (for the renewer's lease duration, then renewed).
    bool tryAcquire();
    const std::string& owner() const { return owner_; }
    // Until when the lease is surely still held (by this host's steady clock), once acquired.
    Clock::time_point heldUntil() const;

private:
    Store& store_;
    LeaseRenewer& renewer_;
    const std::int64_t orgId_;
    const std::string owner_;
    std::shared_ptr<LeaseRenewer::Held> held_;
};

}  // namespace bridge
