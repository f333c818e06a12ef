#include "InvalidationWatch.h"

#include <algorithm>
#include <exception>

#include "bridge/base/Logging.h"

namespace bridge {

namespace {

Error storeUnavailable() { return Error(ErrorCode::StoreUnavailable, "The store is unavailable; try again shortly."); }

}  // namespace

InvalidationWatch::InvalidationWatch(Store& store, Metrics& metrics)
    : store_(store), reads_(metrics.counter("bridge_broker_invalidation_reads_total", "")) {}

std::int64_t InvalidationWatch::latestInvalidation(std::int64_t orgId, Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    // A round already under way may have read the store before this call: only the next one counts.
    const std::uint64_t needed = roundsStarted_ + 1;
    while (roundsFinished_ < needed) {
        if (!reading_) {
            readRound(lock);  // this caller reads for everyone waiting
        } else if (roundFinished_.wait_until(lock, deadline) == std::cv_status::timeout && roundsFinished_ < needed) {
            throw storeUnavailable();
        }
    }
    if (lastRoundFailure_) throw Error(*lastRoundFailure_);
    const auto found = latestByOrganization_.find(orgId);
    return found == latestByOrganization_.end() ? floor_ : std::max(floor_, found->second);
}

void InvalidationWatch::readRound(std::unique_lock<std::mutex>& lock) {
    reading_ = true;
    ++roundsStarted_;
    const bool first = !firstRoundDone_;
    const std::int64_t after = latestSeen_.load();
    std::optional<Error> failure;
    std::int64_t latest = 0;
    std::vector<AccessTokenInvalidation> invalidations;
    lock.unlock();
    try {
        reads_.increment();
        if (first) {
            latest = store_.latestAccessTokenInvalidation();
        } else {
            invalidations = store_.listAccessTokenInvalidationsAfter(after);
        }
    } catch (const Error& error) {
        failure = error;
    } catch (const std::exception& error) {
        logger("broker")->error("reading the access-token invalidations failed: {}", error.what());
        failure = Error(ErrorCode::Internal, "Reading the access-token invalidations failed.");
    }
    lock.lock();
    if (!failure) {
        if (first) {
            floor_ = latest;
            firstRoundDone_ = true;
            latestSeen_.store(latest);
        }
        for (const AccessTokenInvalidation& invalidation : invalidations) {
            latestByOrganization_[invalidation.orgId] = invalidation.generation;
            latestSeen_.store(std::max(latestSeen_.load(), invalidation.generation));
        }
    }
    lastRoundFailure_ = std::move(failure);
    roundsFinished_ = roundsStarted_;
    reading_ = false;
    roundFinished_.notify_all();
}

}  // namespace bridge
