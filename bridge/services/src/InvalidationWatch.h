#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "bridge/base/Error.h"
#include "bridge/base/Metrics.h"
#include "bridge/store/Store.h"

namespace bridge {

// What this instance knows of the store's access-token invalidations (Store::invalidateAccessToken, through any
// instance), kept current by reads of the store that concurrent requests share.
//
// The promise: a grant that starts after an invalidation returned, on whatever instance, never hands out a token
// read before it. A grant calls latestInvalidation(), which waits for a read of the store that *began after the
// call* and returns the organization's latest invalidation known then. A token read from the store carries the
// mark() taken just before that read; it may be handed out only if its mark is at least latestInvalidation().
// Why that suffices: invalidations commit in the order of their generations, so a token read before invalidation g
// committed was marked with a generation seen before that, hence below g; and the read that a later grant waits
// for sees g.
//
// Coalescing: at most one read at a time; every caller that arrives while one is under way waits for the next,
// which then serves all of them. So each grant waits at most about two store round trips, and the store answers
// at most one query per round trip per instance, however many requests there are. Thread-safe.
class InvalidationWatch {
public:
    using Clock = std::chrono::steady_clock;

    InvalidationWatch(Store& store, Metrics& metrics);

    InvalidationWatch(const InvalidationWatch&) = delete;
    InvalidationWatch& operator=(const InvalidationWatch&) = delete;

    // The mark for a token about to be read from the store: the latest generation already seen.
    std::int64_t mark() const { return latestSeen_.load(); }

    // Waits for a read of the store's invalidations that begins after this call, then returns the generation a
    // token of the organization must be marked with at least. Throws Error(StoreUnavailable) when that read fails or
    // the deadline passes first.
    std::int64_t latestInvalidation(std::int64_t orgId, Clock::time_point deadline);

private:
    // Reads what changed in the store as the next round, `lock` released meanwhile; its waiters are woken after.
    void readRound(std::unique_lock<std::mutex>& lock);

    Store& store_;
    Metrics::Counter& reads_;

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
};

}  // namespace bridge
