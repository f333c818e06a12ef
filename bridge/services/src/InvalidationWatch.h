#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bridge/base/Error.h"
#include "bridge/base/Metrics.h"
#include "bridge/store/Store.h"

namespace bridge {

// What this instance knows of the store's access-token invalidations (Store::invalidateAccessToken, through any
// instance).
//
// The promise: a grant that starts after an invalidation returned, on whatever instance, never hands out a token
// read before it. A token read from the store carries the mark() taken just before that read; it may be handed out
// only if its mark is at least latestInvalidation() for its organization. Invalidations commit in the order of their
// generations, so a token read before invalidation g committed was marked with a generation seen before that, hence
// below g.
//
// How latestInvalidation() knows of every invalidation that returned before it was called:
// - Followed (the usual case): follow() runs every few milliseconds on a background thread (InvalidationFollower):
//   it reads what changed and records in the store the generation applied, under a lease on the database's clock.
//   An invalidation returns only once every instance with a live lease has applied it (TokenBroker::invalidate), so
//   while this instance's own lease is live, what it knows is enough: no store read on the grant's path. The
//   instance counts its lease from before it sent the record, shortened by a quarter, so it stops trusting it before
//   the store's copy expires; and it trusts a record only if the one before was still live when it landed, so that
//   no invalidation can have passed it by while the store showed no live record of it.
// - Otherwise (starting, the store slow or down, the follower stopped): the grant waits for a read of the store that
//   began after the call. At most one read at a time; every caller that arrives while one is under way waits for
//   the next, which then serves all of them.
// Thread-safe.
class InvalidationWatch {
public:
    using Clock = std::chrono::steady_clock;

    InvalidationWatch(Store& store, Metrics& metrics);

    InvalidationWatch(const InvalidationWatch&) = delete;
    InvalidationWatch& operator=(const InvalidationWatch&) = delete;

    // The mark for a token about to be read from the store: the latest generation already seen.
    std::int64_t mark() const { return latestSeen_.load(); }

    // The generation a token of the organization must be marked with at least. Unless followed, waits for a read of
    // the store's invalidations that begins after this call; throws Error(StoreUnavailable) when that read fails or
    // the deadline passes first.
    std::int64_t latestInvalidation(std::int64_t orgId, Clock::time_point deadline);

    // One step of following: reads what changed and, when the generation moved or a third of the lease went by,
    // records in the store the generation applied, as `instanceId`, for `lease`. Failures are logged once and leave
    // the lease to lapse.
    void follow(const std::string& instanceId, std::chrono::milliseconds lease);
    // Following stopped (the follower thread has ended): grants read the invalidations again from now on.
    void unfollow();

private:
    // Waits for a round that begins after the call (leading it if none is under way); `lock` held on return.
    // `reads` counts the round if this caller leads it.
    void awaitNextRound(std::unique_lock<std::mutex>& lock, std::optional<Clock::time_point> deadline,
                        Metrics::Counter& reads);
    // Reads what changed in the store as the next round, `lock` released meanwhile; its waiters are woken after.
    void readRound(std::unique_lock<std::mutex>& lock, Metrics::Counter& reads);
    std::int64_t knownLatest(std::int64_t orgId) const;  // mutex_ held
    // Logs a failure of following once, until following works again.
    void followingFailed(const std::string& reason);

    Store& store_;
    Metrics::Counter& followerReads_;
    Metrics::Counter& grantReads_;  // none while followed: a rise means following fails

    std::mutex mutex_;
    std::condition_variable roundFinished_;
    std::uint64_t roundsStarted_ = 0;
    std::uint64_t roundsFinished_ = 0;
    bool reading_ = false;
    std::optional<Error> lastRoundFailure_;
    // Before the first round nothing is known: it reads the store's latest generation, which stands for every
    // invalidation up to it (a token marked before that round is below it, so none is handed out unchecked).
    bool firstRoundDone_ = false;
    std::int64_t floor_ = 0;
    std::unordered_map<std::int64_t, std::int64_t> latestByOrganization_;  // invalidations above floor_
    std::atomic<std::int64_t> latestSeen_{0};                              // written under mutex_

    // Only the follower thread touches these four (and unfollow, once it has ended).
    std::int64_t recordedGeneration_ = -1;
    Clock::time_point recordedAt_;  // when the last record that the store took was sent
    bool chained_ = false;          // that record landed while the one before was still live
    bool failing_ = false;
    std::atomic<Clock::time_point> followedUntil_{Clock::time_point::min()};
};

}  // namespace bridge
