#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "bridge/base/Error.h"
#include "bridge/base/Metrics.h"
#include "bridge/base/SnapshotMap.h"
#include "bridge/crypto/TokenCipher.h"
#include "bridge/salesforce/SalesforceClient.h"
#include "bridge/services/NotificationOutbox.h"
#include "bridge/store/Model.h"
#include "bridge/store/Store.h"

namespace bridge {

class InvalidationWatch;
class OrganizationRefresher;

// A user as the sync engine names it: the legacy integer id or the new panel's opaque id.
using UserRef = std::variant<std::int64_t, std::string>;

// What the sync engine gets: the organization's shared access token and where to use it.
struct AccessGrant {
    std::string accessToken;
    std::string instanceUrl;
    std::string serviceAccountUserId;  // 18 characters
    UnixSeconds expiresAt = 0;         // when the bridge stops handing this token out
};

struct BrokerSettings {
    // Salesforce does not say how long an access token lives, so the bridge reuses one for this long.
    std::chrono::seconds accessTokenTtl{900};
    // How long one call to Salesforce may take: the SalesforceClient's own timeout.
    std::chrono::milliseconds salesforceTimeout{10000};
    // How old an in-memory copy of a user or connection may get before it is read from the store again.
    std::chrono::milliseconds snapshotMaxAge{1000};
    // Slack for store round trips: a request waits at most salesforceTimeout + leaseMargin for a refresh.
    std::chrono::milliseconds leaseMargin{2000};
    // How long a refresh lease lasts unless renewed (its holder renews it every third of this while Salesforce
    // answers): how long a crashed holder keeps the other instances from refreshing the organization.
    std::chrono::milliseconds leaseDuration{6000};
    // Where a rotated refresh token waits when the store could not take it before its lease ended.
    std::string recoveryFile = "refresh-recovery.jsonl";
    // Names this running instance in refresh leases and in the store's record of who follows the invalidations;
    // distinct per instance.
    std::string instanceId;
    // How often the instance reads the store's invalidations in the background (InvalidationFollower)...
    std::chrono::milliseconds invalidationPoll{10};
    // ...and how long its record of the generation it applied holds: an invalidation waits at most about this long
    // for an instance that stopped following (frozen, cut off from the store) before returning without it.
    std::chrono::milliseconds invalidationLease{3000};
    // A loss's webhook notification, written with it (disabled without notify.webhookUrl).
    NotificationOutbox outbox;
};

// The token broker (API.md, "Token broker"): hands the sync engine the organization's shared access token,
// minted from the service account's refresh token.
//
// Hot path: in-memory copies of user -> (organization, active) and organization -> (connection state, decrypted
// access token), each at most snapshotMaxAge old, so a warm request reads nothing, writes nothing and calls no one.
// An invalidation through any instance that returned before a request arrived is obeyed by it (InvalidationWatch):
// each instance follows the store's invalidations in the background, and invalidate() returns once every instance
// that follows them has applied it; an instance that could not follow them lately reads them for each request.
// Cold path: single flight per organization. Concurrent requests of this process share one flight; its leader
// takes the store's refresh lease so that one instance at a time refreshes, and the others wait for what it stores.
// Thread-safe.
class TokenBroker {
public:
    TokenBroker(Store& store, const SalesforceClient& salesforce, const TokenCipher& cipher, Metrics& metrics,
                BrokerSettings settings);
    ~TokenBroker();

    TokenBroker(const TokenBroker&) = delete;
    TokenBroker& operator=(const TokenBroker&) = delete;

    // client: "sync" or "addin". Throws Error: AddinNotSupported, ValidationFailed (field "client"), UserNotFound,
    // UserInactive, NotConnected, SyncSuspended (message: Salesforce's reason), SalesforceUnavailable,
    // StoreUnavailable.
    AccessGrant accessToken(const UserRef& user, std::string_view client);

    // The sync engine found the access token bad: forget it here and in the store, so that the next request through
    // any instance refreshes. Returns once every instance following the invalidations has applied it, or at most
    // about invalidationLease later (logged and counted). Throws Error(UserNotFound), Error(StoreUnavailable).
    void invalidate(const UserRef& user);

    // One step of following the store's invalidations, for InvalidationFollower; never throws.
    void followInvalidations();
    // This instance stops following them: no invalidation waits for it any more. Never throws.
    void stopFollowingInvalidations();
    std::chrono::milliseconds invalidationPoll() const { return invalidationPoll_; }

    // The organization's connection changed through a panel on this instance: drop its in-memory copies at once.
    void connectionChanged(std::int64_t orgId);

    // Uses the organization's refresh token at Salesforce unless someone did since idleBefore, through the same
    // single flight as requests. Throws Error like accessToken.
    void keepAlive(std::int64_t orgId, UnixSeconds idleBefore);

    // Writes the rotated refresh tokens an earlier run kept in the recovery file (see BrokerSettings::recoveryFile);
    // returns how many. An entry the store cannot take now stays for the next start (logged); throws
    // std::runtime_error when the file cannot be read or rewritten.
    int reapplyRecoveredRefreshTokens();

private:
    using Clock = std::chrono::steady_clock;
    struct UserSnapshot;
    struct OrganizationSnapshot;
    struct Flight;

    AccessGrant serve(const UserRef& user, std::string_view client, Clock::time_point deadline);
    std::shared_ptr<const UserSnapshot> userSnapshot(const UserRef& user);
    std::shared_ptr<const OrganizationSnapshot> organizationSnapshot(std::int64_t orgId);
    std::shared_ptr<const OrganizationSnapshot> readOrganization(std::int64_t orgId,
                                                                 const OrganizationSnapshot* previous);
    // Joins the organization's flight under way, or leads a new one. invalidatedAt (requests only): the generation
    // a grant must be marked with at least; a flight that began before the store showed it is not joined.
    AccessGrant sharedRefresh(std::int64_t orgId, std::optional<UnixSeconds> keepAliveCutoff,
                              std::optional<std::int64_t> invalidatedAt, Clock::time_point deadline);
    // The leader's part of a flight: obtains the token (or the refusal) and lands the flight.
    AccessGrant leadFlight(std::int64_t orgId, Flight& flight, std::optional<UnixSeconds> keepAliveCutoff,
                           Clock::time_point deadline);
    // Publishes the flight's outcome to its waiters and ends it.
    void land(std::int64_t orgId, Flight& flight);
    Metrics::Counter& refusalCounter(ErrorCode code);

    Store& store_;
    const TokenCipher& cipher_;
    const Clock::duration requestBudget_;
    const std::string instanceId_;
    const std::chrono::milliseconds invalidationPoll_;
    const std::chrono::milliseconds invalidationLease_;
    std::unique_ptr<OrganizationRefresher> refresher_;
    std::unique_ptr<InvalidationWatch> invalidations_;

    SnapshotMap<UserRef, UserSnapshot> users_;
    SnapshotMap<std::int64_t, OrganizationSnapshot> organizations_;

    std::mutex flightsMutex_;
    std::unordered_map<std::int64_t, std::shared_ptr<Flight>> flights_;

    // Resolved once: updating a series is then a relaxed atomic increment.
    Metrics::Counter& granted_;
    Metrics::Counter& cacheHits_;
    Metrics::Counter& cacheMisses_;
    std::unordered_map<ErrorCode, Metrics::Counter*> refusals_;
    Metrics::Counter& otherRefusals_;
    Metrics::Counter& invalidationWaitsAbandoned_;
};

}  // namespace bridge
