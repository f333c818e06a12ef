#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "LeaseRenewer.h"
#include "RefreshLease.h"
#include "RefreshTokenRecovery.h"
#include "bridge/base/Metrics.h"
#include "bridge/crypto/TokenCipher.h"
#include "bridge/salesforce/SalesforceClient.h"
#include "bridge/services/TokenBroker.h"
#include "bridge/store/Store.h"

namespace bridge {

// The cross-instance half of the broker's single flight: of all running instances, one at a time refreshes an
// organization's access token, the one holding the store's refresh lease; the others wait for what it stores.
// The leader re-reads the connection under the lease, so it presents the refresh token the store holds now, never
// one that a rotation already retired. Thread-safe.
class OrganizationRefresher {
public:
    using Clock = std::chrono::steady_clock;

    OrganizationRefresher(Store& store, const SalesforceClient& salesforce, const TokenCipher& cipher, Metrics& metrics,
                          const BrokerSettings& settings);

    // An unexpired access token for the organization: one that another instance stored meanwhile, or a new one
    // from Salesforce, committed (with a rotated refresh token) before it is returned. With keepAliveCutoff, a
    // stored token is only good enough if the refresh token was also used since the cutoff.
    // Throws Error: NotConnected; SyncSuspended, after recording the loss when Salesforce refused the refresh;
    // SalesforceUnavailable with nothing changed, also when the deadline comes first; StoreUnavailable.
    AccessGrant obtain(std::int64_t orgId, std::optional<UnixSeconds> keepAliveCutoff, Clock::time_point deadline);

    // Writes the rotated refresh tokens that an earlier run kept in the recovery file, each under its
    // organization's lease and only where the connection still holds the token that was presented; removes what
    // was written or is stale from the file. Returns how many were written. Meant for the start of `bridge serve`.
    int reapplyRecoveredRefreshTokens();

private:
    // refusedStoredToken, when given, receives why a stored token was refused (for the refresh's event).
    std::optional<AccessGrant> usableStoredGrant(const Connection& connection,
                                                 std::optional<UnixSeconds> keepAliveCutoff,
                                                 std::optional<std::string>* refusedStoredToken = nullptr);
    AccessGrant refreshAtSalesforce(const Connection& connection, const RefreshLease& lease,
                                    const std::optional<std::string>& refusedStoredToken);
    AccessGrant commit(const Connection& connection, const RefreshLease& lease, const std::string& presentedToken,
                       const TokenGrant& minted, const std::optional<std::string>& refusedStoredToken);
    // The rotated refresh token first, alone, tried again while the lease lasts; false when the connection changed
    // meanwhile. When the store stays unavailable until the lease ends: kept in the recovery file, then
    // Error(StoreUnavailable).
    bool storeRotatedRefreshToken(const RotatedRefreshToken& rotation, const RefreshLease& lease);
    [[noreturn]] void keepForRecovery(const RotatedRefreshToken& rotation);
    // When the recovery file holds a rotated token of the organization: re-applies the file first, and throws
    // Error(StoreUnavailable) if that token still is not in the store (presenting the retired one would lose the
    // connection).
    void reapplyRecoveredTokenOf(std::int64_t orgId);
    bool commitRetryingStoreFaults(const RefreshOutcome& outcome);
    // The presented refresh token in the clear; Error(StoreUnavailable) with a key_missing event (once per
    // organization and key id in this process) when no configured key opens it.
    std::string openRefreshToken(const Connection& connection);
    [[noreturn]] void recordLoss(const Connection& connection, const SalesforceFailure& refusal);
    // The connection changed while Salesforce answered (an admin logged in again or disconnected): what it is
    // now decides the answer, and the token just minted is not handed out.
    [[noreturn]] void answerForChangedConnection(std::int64_t orgId);
    std::string nextLeaseOwner();

    Store& store_;
    const SalesforceClient& salesforce_;
    const TokenCipher& cipher_;
    const std::chrono::seconds accessTokenTtl_;
    const std::chrono::milliseconds salesforceTimeout_;
    const NotificationOutbox outbox_;
    const std::string leaseOwnerPrefix_;
    std::atomic<std::uint64_t> attempts_{0};
    std::mutex keyMissingReportedMutex_;
    std::set<std::string> keyMissingReported_;  // "<org id>/<key id>"
    std::atomic<bool> recoveryPending_{false};  // whether recoveryPendingFor_ is not empty, read without the lock
    std::mutex recoveryPendingMutex_;
    std::set<std::int64_t> recoveryPendingFor_;  // organizations with a rotated token in the recovery file

    Metrics::Counter& refreshed_;
    Metrics::Counter& refused_;
    Metrics::Counter& unavailable_;
    Metrics::Histogram& refreshSeconds_;
    Metrics::Counter& recoveryKept_;
    Metrics::Counter& recoveryFailed_;
    Metrics::Counter& recoveryReapplied_;
    std::shared_ptr<spdlog::logger> logger_;
    RefreshTokenRecovery recovery_;
    LeaseRenewer renewer_;  // last: its thread stops before anything it uses goes
};

}  // namespace bridge
