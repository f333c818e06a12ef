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

private:
    // refusedStoredToken, when given, receives why a stored token was refused (for the refresh's event).
    std::optional<AccessGrant> usableStoredGrant(const Connection& connection,
                                                 std::optional<UnixSeconds> keepAliveCutoff,
                                                 std::optional<std::string>* refusedStoredToken = nullptr);
    AccessGrant refreshAtSalesforce(const Connection& connection, const std::string& leaseOwner,
                                    const std::optional<std::string>& refusedStoredToken);
    AccessGrant commit(const Connection& connection, const std::string& leaseOwner, const std::string& presentedToken,
                       const TokenGrant& minted, const std::optional<std::string>& refusedStoredToken);
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
    const std::chrono::milliseconds leaseDuration_;
    const std::string leaseOwnerPrefix_;
    std::atomic<std::uint64_t> attempts_{0};
    std::mutex keyMissingReportedMutex_;
    std::set<std::string> keyMissingReported_;  // "<org id>/<key id>"

    Metrics::Counter& refreshed_;
    Metrics::Counter& refused_;
    Metrics::Counter& unavailable_;
    Metrics::Histogram& refreshSeconds_;
    std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace bridge
