#include "InvalidationWatch.h"

#include <algorithm>
#include <exception>

#include "bridge/base/Logging.h"

namespace bridge {

namespace {

Error storeUnavailable() { return Error(ErrorCode::StoreUnavailable, "The store is unavailable; try again shortly."); }

}  // namespace

InvalidationWatch::InvalidationWatch(Store& store, Metrics& metrics)
    : store_(store),
      followerReads_(metrics.counter("bridge_broker_invalidation_reads_total", "by=\"follower\"")),
      grantReads_(metrics.counter("bridge_broker_invalidation_reads_total", "by=\"grant\"")) {}

std::int64_t InvalidationWatch::latestInvalidation(std::int64_t orgId, Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    if (Clock::now() < followedUntil_.load()) return knownLatest(orgId);
    awaitNextRound(lock, deadline, grantReads_);
    if (lastRoundFailure_) throw Error(*lastRoundFailure_);
    return knownLatest(orgId);
}

void InvalidationWatch::follow(const std::string& instanceId, std::chrono::milliseconds lease) {
    std::int64_t applied = 0;
    {
        std::unique_lock lock(mutex_);
        awaitNextRound(lock, std::nullopt, followerReads_);
        if (lastRoundFailure_) return followingFailed(lastRoundFailure_->what());
        applied = latestSeen_.load();
    }
    const Clock::time_point sentAt = Clock::now();
    if (chained_ && applied == recordedGeneration_ && sentAt < recordedAt_ + lease / 3) return;
    try {
        store_.recordAppliedInvalidation(instanceId, applied, lease);
    } catch (const std::exception& error) {
        return followingFailed(error.what());
    }
    // Trusted only if the previous record was still live when this one landed. Otherwise the store may have shown
    // none in between, and an invalidation that returned then without waiting for this instance may have committed
    // after this round read: the next record, after a round that began after this one, is trusted.
    chained_ = recordedAt_ != Clock::time_point{} && Clock::now() < recordedAt_ + lease - lease / 4;
    recordedGeneration_ = applied;
    recordedAt_ = sentAt;
    if (chained_) followedUntil_.store(sentAt + lease - lease / 4);
    if (failing_) logger("broker")->info("following the store's invalidations again");
    failing_ = false;
}

void InvalidationWatch::unfollow() {
    followedUntil_.store(Clock::time_point::min());
    recordedAt_ = Clock::time_point{};
    chained_ = false;
}

void InvalidationWatch::awaitNextRound(std::unique_lock<std::mutex>& lock, std::optional<Clock::time_point> deadline,
                                       Metrics::Counter& reads) {
    // A round already under way may have read the store before this call: only the next one counts.
    const std::uint64_t needed = roundsStarted_ + 1;
    while (roundsFinished_ < needed) {
        if (!reading_) {
            readRound(lock, reads);  // this caller reads for everyone waiting
        } else if (!deadline) {
            roundFinished_.wait(lock);
        } else if (roundFinished_.wait_until(lock, *deadline) == std::cv_status::timeout && roundsFinished_ < needed) {
            throw storeUnavailable();
        }
    }
}

std::int64_t InvalidationWatch::knownLatest(std::int64_t orgId) const {
    const auto found = latestByOrganization_.find(orgId);
    return found == latestByOrganization_.end() ? floor_ : std::max(floor_, found->second);
}

void InvalidationWatch::followingFailed(const std::string& reason) {
    if (!failing_) {
        logger("broker")->warn("following the store's invalidations failed ({}): grants read them until it works again",
                               reason);
    }
    failing_ = true;
}

void InvalidationWatch::readRound(std::unique_lock<std::mutex>& lock, Metrics::Counter& reads) {
    reading_ = true;
    ++roundsStarted_;
    const bool first = !firstRoundDone_;
    const std::int64_t after = latestSeen_.load();
    std::optional<Error> failure;
    std::int64_t latest = 0;
    std::vector<AccessTokenInvalidation> invalidations;
    lock.unlock();
    try {
        reads.increment();
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
            std::int64_t& known = latestByOrganization_[invalidation.orgId];
            known = std::max(known, invalidation.generation);
            latestSeen_.store(std::max(latestSeen_.load(), invalidation.generation));
        }
    }
    lastRoundFailure_ = std::move(failure);
    roundsFinished_ = roundsStarted_;
    reading_ = false;
    roundFinished_.notify_all();
}

}  // namespace bridge
