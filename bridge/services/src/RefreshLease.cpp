#include "RefreshLease.h"

#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"

namespace bridge {

RefreshLease::RefreshLease(Store& store, LeaseRenewer& renewer, std::int64_t orgId, std::string owner)
    : store_(store), renewer_(renewer), orgId_(orgId), owner_(std::move(owner)) {}

RefreshLease::~RefreshLease() {
    if (!held_) return;
    renewer_.untrack(held_);
    try {
        store_.releaseRefreshLease(orgId_, owner_);
    } catch (const Error& error) {
        // Nothing is lost: the lease expires on its own, and until then other instances wait or answer 503.
        logger("broker")->warn("refresh lease of organization {} not released: {}", orgId_, error.what());
    }
}

bool RefreshLease::tryAcquire() {
    const auto started = Clock::now();
    if (!store_.tryAcquireRefreshLease(orgId_, owner_, renewer_.leaseDuration())) return false;
    held_ = renewer_.track(orgId_, owner_, started);
    return true;
}

RefreshLease::Clock::time_point RefreshLease::heldUntil() const {
    return held_ ? held_->heldUntil() : Clock::time_point{};
}

}  // namespace bridge
