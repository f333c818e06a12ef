#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "bridge/store/Store.h"

namespace bridge {

// One attempt at an organization's refresh lease in the store. Released when it goes out of scope, so that the
// other instances' waiters learn the outcome at once rather than when the lease would have expired.
class RefreshLease {
public:
    // owner must be unique per attempt: the store lets an owner take its own lease again.
    RefreshLease(Store& store, std::int64_t orgId, std::string owner);
    ~RefreshLease();

    RefreshLease(const RefreshLease&) = delete;
    RefreshLease& operator=(const RefreshLease&) = delete;

    // True when this attempt now holds the lease, for `duration` from now.
    bool tryAcquire(std::chrono::milliseconds duration);
    const std::string& owner() const { return owner_; }

private:
    Store& store_;
    const std::int64_t orgId_;
    const std::string owner_;
    bool held_ = false;
};

}  // namespace bridge
