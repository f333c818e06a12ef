#include "LeaseRenewer.h"

#include <vector>

#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"

namespace bridge {

LeaseRenewer::LeaseRenewer(Store& store, std::chrono::milliseconds leaseDuration)
    : store_(store), leaseDuration_(leaseDuration), thread_([this] { run(); }) {}

LeaseRenewer::~LeaseRenewer() { stop(); }

std::shared_ptr<LeaseRenewer::Held> LeaseRenewer::track(std::int64_t orgId, const std::string& owner,
                                                        Clock::time_point takenAt) {
    auto held = std::make_shared<Held>(orgId, owner, takenAt + leaseDuration_);
    const std::lock_guard lock(mutex_);
    held_.insert(held);
    return held;
}

void LeaseRenewer::untrack(const std::shared_ptr<Held>& held) {
    const std::lock_guard lock(mutex_);
    held_.erase(held);
}

void LeaseRenewer::stop() {
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wakeUp_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void LeaseRenewer::run() {
    // A third of the duration: a lease survives one renewal that fails or comes late.
    const auto every = std::max<std::chrono::milliseconds>(leaseDuration_ / 3, std::chrono::milliseconds(1));
    std::unique_lock lock(mutex_);
    while (!wakeUp_.wait_for(lock, every, [this] { return stopping_; })) {
        const std::vector<std::shared_ptr<Held>> due(held_.begin(), held_.end());
        lock.unlock();
        for (const auto& held : due) renew(*held);
        lock.lock();
    }
}

void LeaseRenewer::renew(Held& held) {
    if (held.lost) return;
    const auto started = Clock::now();
    try {
        if (store_.renewRefreshLease(held.orgId, held.owner, leaseDuration_)) {
            held.until = (started + leaseDuration_).time_since_epoch().count();
        } else {
            held.lost = true;
            logger("broker")->warn("refresh lease of organization {} was lost during its refresh", held.orgId);
        }
    } catch (const Error& error) {
        // Tried again at the next round, while the lease may still last.
        logger("broker")->warn("refresh lease of organization {} not renewed: {}", held.orgId, error.what());
    }
}

}  // namespace bridge
