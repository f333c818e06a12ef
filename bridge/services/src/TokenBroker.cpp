#include "bridge/services/TokenBroker.h"

#include <cctype>
#include <exception>
#include <future>
#include <thread>
#include <utility>

#include "BrokerRules.h"
#include "InvalidationWatch.h"
#include "OrganizationRefresher.h"
#include "bridge/base/Logging.h"
#include "bridge/base/WallClock.h"

namespace bridge {

namespace {

UnixSeconds nowSeconds() { return WallClock::unixSeconds(); }

std::string outcomeLabel(ErrorCode code) {
    std::string name(errorCodeName(code));
    for (char& letter : name) letter = static_cast<char>(std::tolower(static_cast<unsigned char>(letter)));
    return "outcome=\"" + name + "\"";
}

constexpr const char* kRequestsMetric = "bridge_broker_requests_total";
constexpr const char* kCacheMetric = "bridge_broker_cache_total";

}  // namespace

struct TokenBroker::UserSnapshot {
    std::int64_t orgId = 0;
    bool active = false;
};

struct TokenBroker::OrganizationSnapshot {
    // The latest invalidation this instance had seen when the store was read (InvalidationWatch::mark).
    std::int64_t mark = 0;
    std::optional<Error> refusal;
    // The shared access token the store held, decrypted; absent when it held none that opens.
    std::optional<AccessGrant> grant;
    std::string grantCiphertext;  // lets the next read skip decrypting an unchanged token
};

// One refresh of an organization under way in this process, and everyone waiting for it.
struct TokenBroker::Flight {
    std::promise<void> landed;
    std::shared_future<void> landing = landed.get_future().share();
    // Set by the leader before it reads the store (InvalidationWatch::mark).
    std::int64_t mark = 0;
    // Written by the leader before it sets `landed`, only read afterwards. Each waiter throws a copy of its own:
    // one exception object rethrown in many threads would be shared by all of them.
    std::optional<AccessGrant> grant;
    std::optional<Error> refusal;
};

TokenBroker::TokenBroker(Store& store, const SalesforceClient& salesforce, const TokenCipher& cipher, Metrics& metrics,
                         BrokerSettings settings)
    : store_(store),
      cipher_(cipher),
      requestBudget_(settings.salesforceTimeout + settings.leaseMargin),
      instanceId_(settings.instanceId),
      invalidationPoll_(settings.invalidationPoll),
      invalidationLease_(settings.invalidationLease),
      refresher_(std::make_unique<OrganizationRefresher>(store, salesforce, cipher, metrics, settings)),
      invalidations_(std::make_unique<InvalidationWatch>(store, metrics)),
      users_(settings.snapshotMaxAge),
      organizations_(settings.snapshotMaxAge),
      granted_(metrics.counter(kRequestsMetric, "outcome=\"granted\"")),
      cacheHits_(metrics.counter(kCacheMetric, "result=\"hit\"")),
      cacheMisses_(metrics.counter(kCacheMetric, "result=\"miss\"")),
      otherRefusals_(metrics.counter(kRequestsMetric, "outcome=\"other\"")),
      invalidationWaitsAbandoned_(metrics.counter("bridge_broker_invalidation_waits_abandoned_total", "")) {
    for (ErrorCode code : {ErrorCode::AddinNotSupported, ErrorCode::ValidationFailed, ErrorCode::UserNotFound,
                           ErrorCode::UserInactive, ErrorCode::NotConnected, ErrorCode::SyncSuspended,
                           ErrorCode::SalesforceUnavailable, ErrorCode::StoreUnavailable}) {
        refusals_.emplace(code, &metrics.counter(kRequestsMetric, outcomeLabel(code)));
    }
}

TokenBroker::~TokenBroker() = default;

AccessGrant TokenBroker::accessToken(const UserRef& user, std::string_view client) {
    const Clock::time_point deadline = Clock::now() + requestBudget_;
    try {
        AccessGrant grant = serve(user, client, deadline);
        granted_.increment();
        return grant;
    } catch (const Error& refusal) {
        refusalCounter(refusal.code()).increment();
        throw;
    }
}

AccessGrant TokenBroker::serve(const UserRef& user, std::string_view client, Clock::time_point deadline) {
    if (client == "addin") {
        throw Error(ErrorCode::AddinNotSupported, "Mass authorization serves the sync client only, not the add-in.");
    }
    if (client != "sync") throwValidation("client", "client must be \"sync\" or \"addin\"");

    const std::shared_ptr<const UserSnapshot> owner = userSnapshot(user);
    if (!owner->active) throw Error(ErrorCode::UserInactive, "The user is not active.");
    // Every invalidation that returned before this request arrived, through whichever instance, is obeyed.
    const std::int64_t invalidatedAt = invalidations_->latestInvalidation(owner->orgId, deadline);
    std::shared_ptr<const OrganizationSnapshot> organization = organizationSnapshot(owner->orgId);
    while (organization->mark < invalidatedAt) {
        // Read before that invalidation: its token may be the one reported bad. A read after forget() is marked
        // with at least invalidatedAt, so this reads once.
        organizations_.forget(owner->orgId);
        organization = organizationSnapshot(owner->orgId);
    }
    if (organization->refusal) throw *organization->refusal;
    if (organization->grant && organization->grant->expiresAt > nowSeconds()) {
        cacheHits_.increment();
        return *organization->grant;
    }
    cacheMisses_.increment();
    return sharedRefresh(owner->orgId, std::nullopt, invalidatedAt, deadline);
}

void TokenBroker::invalidate(const UserRef& user) {
    const std::int64_t orgId = userSnapshot(user)->orgId;
    const std::int64_t generation = store_.invalidateAccessToken(orgId);
    organizations_.forget(orgId);
    // This instance included: its own grants trust what it follows as much as the others do.
    const auto giveUpAt = Clock::now() + invalidationLease_ + 4 * invalidationPoll_;
    const auto pause = std::max(std::chrono::milliseconds(1), invalidationPoll_ / 2);
    while (store_.countInstancesBehind(generation) > 0) {
        if (Clock::now() >= giveUpAt) {
            // Not reachable by an instance that follows: its lease would have lapsed. A clock of the database that
            // jumped back could cause it.
            invalidationWaitsAbandoned_.increment();
            logger("broker")->warn("invalidation {} of organization {}: instances still behind after {} ms", generation,
                                   orgId, invalidationLease_.count());
            return;
        }
        std::this_thread::sleep_for(pause);
    }
}

void TokenBroker::followInvalidations() { invalidations_->follow(instanceId_, invalidationLease_); }

void TokenBroker::stopFollowingInvalidations() {
    invalidations_->unfollow();
    try {
        store_.forgetInstance(instanceId_);
    } catch (const std::exception& error) {
        // Its record lapses on its own within invalidationLease.
        logger("broker")->warn("could not withdraw from following the invalidations: {}", error.what());
    }
}

void TokenBroker::connectionChanged(std::int64_t orgId) { organizations_.forget(orgId); }

int TokenBroker::reapplyRecoveredRefreshTokens() { return refresher_->reapplyRecoveredRefreshTokens(); }

void TokenBroker::keepAlive(std::int64_t orgId, UnixSeconds idleBefore) {
    sharedRefresh(orgId, idleBefore, std::nullopt, Clock::now() + requestBudget_);
}

std::shared_ptr<const TokenBroker::UserSnapshot> TokenBroker::userSnapshot(const UserRef& user) {
    auto snapshot = users_.get(user, [&](const UserSnapshot*) -> std::shared_ptr<const UserSnapshot> {
        const std::optional<User> found = std::holds_alternative<std::int64_t>(user)
                                              ? store_.findUser(std::get<std::int64_t>(user))
                                              : store_.findUserByPublicId(std::get<std::string>(user));
        if (!found) return nullptr;
        return std::make_shared<const UserSnapshot>(UserSnapshot{found->orgId, found->active});
    });
    if (!snapshot) throw Error(ErrorCode::UserNotFound, "No such user.");
    return snapshot;
}

std::shared_ptr<const TokenBroker::OrganizationSnapshot> TokenBroker::organizationSnapshot(std::int64_t orgId) {
    return organizations_.get(orgId,
                              [&](const OrganizationSnapshot* previous) { return readOrganization(orgId, previous); });
}

std::shared_ptr<const TokenBroker::OrganizationSnapshot> TokenBroker::readOrganization(
    std::int64_t orgId, const OrganizationSnapshot* previous) {
    auto snapshot = std::make_shared<OrganizationSnapshot>();
    snapshot->mark = invalidations_->mark();  // before reading: what is read is at least this current
    const Connection connection = store_.loadConnection(orgId);
    snapshot->refusal = refusalFor(connection);
    if (snapshot->refusal) return snapshot;
    const std::optional<StoredAccessToken> stored = store_.loadAccessToken(orgId);
    if (!stored) return snapshot;

    snapshot->grantCiphertext = stored->token.ciphertext;
    std::string accessToken;
    if (previous && previous->grant && previous->grantCiphertext == stored->token.ciphertext) {
        accessToken = previous->grant->accessToken;
    } else {
        // Not usable (altered, under a key this instance lacks, or sealed by an earlier version): the cold path
        // mints a fresh one and records why.
        OpenedAccessToken opened = openAccessToken(cipher_, orgId, *stored);
        if (!opened.token) return snapshot;
        accessToken = *std::move(opened.token);
    }
    snapshot->grant = AccessGrant{std::move(accessToken), stored->instanceUrl,
                                  connection.serviceAccountUserId.value_or(""), stored->expiresAt};
    return snapshot;
}

AccessGrant TokenBroker::sharedRefresh(std::int64_t orgId, std::optional<UnixSeconds> keepAliveCutoff,
                                       std::optional<std::int64_t> invalidatedAt, Clock::time_point deadline) {
    while (true) {
        std::shared_ptr<Flight> flight;
        std::shared_future<void> landing;  // a copy per waiter: one shared_future is not for concurrent use
        bool leading = false;
        {
            std::lock_guard lock(flightsMutex_);
            std::shared_ptr<Flight>& slot = flights_[orgId];
            if (!slot) {
                slot = std::make_shared<Flight>();
                leading = true;
            }
            flight = slot;
            landing = flight->landing;
        }
        if (leading) return leadFlight(orgId, *flight, keepAliveCutoff, deadline);
        if (landing.wait_until(deadline) != std::future_status::ready) {
            throw Error(ErrorCode::SalesforceUnavailable, "Salesforce is unavailable; try again shortly.");
        }
        if (!flight->grant) throw Error(*flight->refusal);
        // A flight that began before this request's invalidation showed may have read the token it invalidated:
        // the next flight reads again.
        if (invalidatedAt && flight->mark < *invalidatedAt) continue;
        return *flight->grant;
    }
}

AccessGrant TokenBroker::leadFlight(std::int64_t orgId, Flight& flight, std::optional<UnixSeconds> keepAliveCutoff,
                                    Clock::time_point deadline) {
    flight.mark = invalidations_->mark();
    try {
        flight.grant = refresher_->obtain(orgId, keepAliveCutoff, deadline);
        land(orgId, flight);
        return *flight.grant;
    } catch (const Error& refusal) {
        flight.refusal = refusal;
        land(orgId, flight);
        throw;
    } catch (const std::exception& failure) {
        logger("broker")->error("refresh of organization {} failed: {}", orgId, failure.what());
        flight.refusal = Error(ErrorCode::Internal, "Getting an access token failed.");
        land(orgId, flight);
        throw;
    }
}

void TokenBroker::land(std::int64_t orgId, Flight& flight) {
    // The copy in memory predates this refresh: the next request reads what the store holds now.
    organizations_.forget(orgId);
    flight.landed.set_value();
    std::lock_guard lock(flightsMutex_);
    flights_.erase(orgId);  // only the leader ends its flight, so the slot still holds it
}

Metrics::Counter& TokenBroker::refusalCounter(ErrorCode code) {
    auto found = refusals_.find(code);
    return found != refusals_.end() ? *found->second : otherRefusals_;
}

}  // namespace bridge
