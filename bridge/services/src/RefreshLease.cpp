#include "RefreshLease.h"

#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"

namespace bridge {

RefreshLease::RefreshLease(Store& store, std::int64_t orgId, std::string owner)
    : store_(store), orgId_(orgId), owner_(std::move(owner)) {}

RefreshLease::~RefreshLease() {
    if (!held_) return;
    try {
        store_.releaseRefreshLease(orgId_, owner_);
    } catch (const Error& error) {
        // Nothing is lost: the lease expires on its own, and until then other instances wait or answer 503.
        logger("broker")->warn("refresh lease of organization {} not released: {}", orgId_, error.what());
    }
}

bool RefreshLease::tryAcquire(std::chrono::milliseconds duration) {
    // Wall-clock milliseconds: the lease is compared across processes.
    const auto nowMs =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    held_ = store_.tryAcquireRefreshLease(orgId_, owner_, nowMs, nowMs + duration.count());
    return held_;
}

}  // namespace bridge
