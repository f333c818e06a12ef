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
    // Names this running instance in refresh leases; distinct per instance.
    std::string instanceId;
};

// The token broker (API.md, "Token broker"): hands the sync engine the organization's shared access token,
// minted from the service account's refresh token.
//
// Hot path: in-memory copies of user -> (organization, active) and organization -> (connection state, decrypted
// access token), each at most snapshotMaxAge old, so a warm request writes nothing and calls no one. It reads only
// the store's invalidations, through a read it shares with every request that arrived meanwhile
// (InvalidationWatch): an invalidation through any instance that returned before a request arrived is obeyed by it.
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
    // any instance refreshes. Throws Error(UserNotFound).
    void invalidate(const UserRef& user);

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
};

}  // namespace bridge
