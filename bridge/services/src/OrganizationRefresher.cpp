#include "OrganizationRefresher.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "BrokerRules.h"
#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"
#include "bridge/base/WallClock.h"
#include "bridge/crypto/Secrets.h"
#include "bridge/services/Connectivity.h"

namespace bridge {

namespace {

using namespace std::chrono_literals;

// Waiting for another instance's refresh: short pauses first, as a refresh usually takes a few hundred ms.
constexpr auto kFirstPause = 10ms;
constexpr auto kLongestPause = 100ms;
constexpr int kCommitAttempts = 3;
constexpr auto kCommitRetryPause = 50ms;
constexpr auto kRotationRetryPause = 100ms;
const std::string kUnavailable = "Salesforce is unavailable; try again shortly.";

UnixSeconds nowSeconds() { return WallClock::unixSeconds(); }

void throwIfRefused(const Connection& connection) {
    if (auto refusal = refusalFor(connection)) throw *refusal;
}

Error unavailable() { return Error(ErrorCode::SalesforceUnavailable, kUnavailable); }

Event brokerEvent(std::int64_t orgId, EventType type, std::optional<std::string> detail = std::nullopt) {
    Event event;
    event.orgId = orgId;
    event.at = nowSeconds();
    event.type = type;
    event.detail = std::move(detail);
    return event;
}

}  // namespace

OrganizationRefresher::OrganizationRefresher(Store& store, const SalesforceClient& salesforce,
                                             const TokenCipher& cipher, Metrics& metrics,
                                             const BrokerSettings& settings)
    : store_(store),
      salesforce_(salesforce),
      cipher_(cipher),
      accessTokenTtl_(settings.accessTokenTtl),
      salesforceTimeout_(settings.salesforceTimeout),
      outbox_(settings.outbox),
      // Random per process too: two instances misconfigured with one id must still never share a lease.
      leaseOwnerPrefix_(settings.instanceId + "/" + base64UrlEncode(randomBytes(6))),
      refreshed_(metrics.counter("bridge_salesforce_refresh_total", "result=\"success\"")),
      refused_(metrics.counter("bridge_salesforce_refresh_total", "result=\"refused\"")),
      unavailable_(metrics.counter("bridge_salesforce_refresh_total", "result=\"unavailable\"")),
      refreshSeconds_(metrics.histogram("bridge_salesforce_refresh_seconds", "")),
      recoveryKept_(metrics.counter("bridge_refresh_token_recovery_total", "result=\"kept\"")),
      recoveryFailed_(metrics.counter("bridge_refresh_token_recovery_total", "result=\"failed\"")),
      recoveryReapplied_(metrics.counter("bridge_refresh_token_recovery_total", "result=\"reapplied\"")),
      logger_(logger("broker")),
      recovery_(settings.recoveryFile),
      // Renewed while a refresh is under way, so the lease need not cover the slowest refresh, only the time a
      // crashed holder may keep the others waiting.
      renewer_(store, settings.leaseDuration) {}

AccessGrant OrganizationRefresher::obtain(std::int64_t orgId, std::optional<UnixSeconds> keepAliveCutoff,
                                          Clock::time_point deadline) {
    reapplyRecoveredTokenOf(orgId);
    RefreshLease lease(store_, renewer_, orgId, nextLeaseOwner());
    auto pause = std::chrono::duration_cast<Clock::duration>(kFirstPause);
    while (!lease.tryAcquire()) {
        // Another instance refreshes: its outcome (token or loss) reaches the store before it releases the lease.
        const Connection connection = store_.loadConnection(orgId);
        throwIfRefused(connection);
        if (auto grant = usableStoredGrant(connection, keepAliveCutoff)) return *std::move(grant);
        if (Clock::now() + pause >= deadline) throw unavailable();
        std::this_thread::sleep_for(pause);
        pause = std::min<Clock::duration>(pause * 2, kLongestPause);
    }
    // Read again under the lease: a refresh that finished meanwhile may have rotated the refresh token.
    const Connection connection = store_.loadConnection(orgId);
    throwIfRefused(connection);
    std::optional<std::string> refusedStoredToken;
    if (auto grant = usableStoredGrant(connection, keepAliveCutoff, &refusedStoredToken)) return *std::move(grant);
    if (Clock::now() + salesforceTimeout_ > deadline) throw unavailable();
    return refreshAtSalesforce(connection, lease, refusedStoredToken);
}

int OrganizationRefresher::reapplyRecoveredRefreshTokens() {
    int reapplied = 0;
    const std::vector<RefreshTokenRecovery::Entry> kept =
        recovery_.reapply([&](const RefreshTokenRecovery::Entry& entry) {
            const std::int64_t orgId = entry.rotation.orgId;
            RefreshLease lease(store_, renewer_, orgId, nextLeaseOwner());
            if (!lease.tryAcquire()) {
                logger_->warn("recovered refresh token of organization {} waits: a refresh holds its lease", orgId);
                return false;
            }
            RotatedRefreshToken rotation = entry.rotation;
            rotation.leaseOwner = lease.owner();
            if (!store_.storeRotatedRefreshToken(rotation)) {
                logger_->warn("recovered refresh token of organization {} dropped: the connection changed since",
                              orgId);
                return true;
            }
            ++reapplied;
            recoveryReapplied_.increment();
            store_.appendEvent(brokerEvent(orgId, EventType::RefreshTokenRotated, "re-applied from the recovery file"));
            logger_->warn("recovered refresh token of organization {} re-applied from {}", orgId, recovery_.path());
            return true;
        });
    std::set<std::int64_t> pending;
    for (const RefreshTokenRecovery::Entry& entry : kept) pending.insert(entry.rotation.orgId);
    const std::lock_guard lock(recoveryPendingMutex_);
    recoveryPending_ = !pending.empty();
    recoveryPendingFor_ = std::move(pending);
    return reapplied;
}

void OrganizationRefresher::reapplyRecoveredTokenOf(std::int64_t orgId) {
    if (!recoveryPending_) return;
    const auto pendingFor = [&] {
        const std::lock_guard lock(recoveryPendingMutex_);
        return recoveryPendingFor_.contains(orgId);
    };
    if (!pendingFor()) return;
    try {
        reapplyRecoveredRefreshTokens();
    } catch (const std::runtime_error& error) {
        logger_->error("recovery file not read: {}", error.what());
    }
    if (pendingFor()) {
        throw Error(ErrorCode::StoreUnavailable, "The store is unavailable; try again shortly.");
    }
}

std::optional<AccessGrant> OrganizationRefresher::usableStoredGrant(const Connection& connection,
                                                                    std::optional<UnixSeconds> keepAliveCutoff,
                                                                    std::optional<std::string>* refusedStoredToken) {
    if (keepAliveCutoff && connection.lastRefreshAt.value_or(0) < *keepAliveCutoff) return std::nullopt;
    const std::optional<StoredAccessToken> stored = store_.loadAccessToken(connection.orgId);
    if (!stored || stored->expiresAt <= nowSeconds()) return std::nullopt;
    OpenedAccessToken opened = openAccessToken(cipher_, connection.orgId, *stored);
    if (!opened.token) {
        // A fresh token serves as well; the refresh that mints it records why the stored one was refused.
        if (opened.refusal) {
            logger_->warn("stored access token of organization {} refused: {}", connection.orgId, *opened.refusal);
            if (refusedStoredToken) *refusedStoredToken = std::move(opened.refusal);
        }
        return std::nullopt;
    }
    return AccessGrant{*std::move(opened.token), stored->instanceUrl, connection.serviceAccountUserId.value_or(""),
                       stored->expiresAt};
}

AccessGrant OrganizationRefresher::refreshAtSalesforce(const Connection& connection, const RefreshLease& lease,
                                                       const std::optional<std::string>& refusedStoredToken) {
    const std::int64_t orgId = connection.orgId;
    const std::string presented = openRefreshToken(connection);
    const auto started = Clock::now();
    const TokenResult result = salesforce_.refresh(*connection.environment, presented);
    refreshSeconds_.observe(std::chrono::duration<double>(Clock::now() - started).count());

    if (result.succeeded()) {
        refreshed_.increment();
        return commit(connection, lease, presented, result.value(), refusedStoredToken);
    }
    const SalesforceFailure& failure = result.failure();
    if (failure.kind == SalesforceFailure::Kind::PermanentRefusal) {
        refused_.increment();
        recordLoss(connection, failure);
    }
    unavailable_.increment();
    logger_->warn("refresh for organization {} failed, nothing changed: {}", orgId, failure.reason());
    throw unavailable();
}

AccessGrant OrganizationRefresher::commit(const Connection& connection, const RefreshLease& lease,
                                          const std::string& presentedToken, const TokenGrant& minted,
                                          const std::optional<std::string>& refusedStoredToken) {
    const std::int64_t orgId = connection.orgId;
    const UnixSeconds now = nowSeconds();
    AccessGrant grant{minted.accessToken,
                      minted.instanceUrl.empty() ? connection.instanceUrl.value_or("") : minted.instanceUrl,
                      connection.serviceAccountUserId.value_or(""), now + accessTokenTtl_.count()};

    RefreshOutcome outcome;
    outcome.orgId = orgId;
    outcome.leaseOwner = lease.owner();
    outcome.presentedRefreshCiphertext = connection.refreshToken->ciphertext;
    outcome.accessToken = StoredAccessToken{
        cipher_.seal(grant.accessToken, accessTokenAssociatedData(orgId, grant.instanceUrl, grant.expiresAt)),
        grant.instanceUrl, grant.expiresAt};
    if (refusedStoredToken)
        outcome.events.push_back(brokerEvent(orgId, EventType::AccessTokenRefused, refusedStoredToken));
    const bool rotated = minted.refreshToken && *minted.refreshToken != presentedToken;
    if (rotated) {
        // The new refresh token exists nowhere else and Salesforce retired the presented one: it is made durable
        // first, alone; the access token follows on the connection that now holds it.
        const RotatedRefreshToken rotation{
            orgId, lease.owner(), connection.refreshToken->ciphertext,
            cipher_.seal(*minted.refreshToken, Connectivity::refreshTokenAssociatedData(orgId))};
        if (!storeRotatedRefreshToken(rotation, lease)) answerForChangedConnection(orgId);
        outcome.presentedRefreshCiphertext = rotation.rotated.ciphertext;
        outcome.events.push_back(brokerEvent(orgId, EventType::RefreshTokenRotated));
    } else if (cipher_.needsResealing(*connection.refreshToken)) {
        // The same token, still under an older key: written again under the active one with this commit, so that
        // refreshes retire old keys as they go (bridge rekey does the rest).
        outcome.rotatedRefreshToken = cipher_.seal(presentedToken, Connectivity::refreshTokenAssociatedData(orgId));
    }
    outcome.refreshedAt = now;
    if (!commitRetryingStoreFaults(outcome)) answerForChangedConnection(orgId);
    logger_->info("organization {} refreshed its access token{}", orgId, rotated ? " (refresh token rotated)" : "");
    return grant;
}

bool OrganizationRefresher::storeRotatedRefreshToken(const RotatedRefreshToken& rotation, const RefreshLease& lease) {
    for (;;) {
        try {
            return store_.storeRotatedRefreshToken(rotation);
        } catch (const Error& error) {
            if (error.code() != ErrorCode::StoreUnavailable) throw;
            // Past the lease another instance may present the retired token: the store is no longer the place.
            if (Clock::now() + kRotationRetryPause >= lease.heldUntil()) keepForRecovery(rotation);
            logger_->warn("storing the rotated refresh token of organization {} failed, trying again: {}",
                          rotation.orgId, error.what());
            std::this_thread::sleep_for(kRotationRetryPause);
        }
    }
}

void OrganizationRefresher::keepForRecovery(const RotatedRefreshToken& rotation) {
    try {
        recovery_.keep({rotation, nowSeconds()});
        recoveryKept_.increment();
        {
            const std::lock_guard lock(recoveryPendingMutex_);
            recoveryPendingFor_.insert(rotation.orgId);
            recoveryPending_ = true;
        }
        logger_->error(
            "rotated refresh token of organization {} not stored before its lease ended; kept sealed in {}, "
            "re-applied before this process refreshes the organization again, or at the next start",
            rotation.orgId, recovery_.path());
    } catch (const std::runtime_error& error) {
        recoveryFailed_.increment();
        logger_->critical("rotated refresh token of organization {} lost: not stored, and not kept: {}", rotation.orgId,
                          error.what());
    }
    throw Error(ErrorCode::StoreUnavailable, "The store is unavailable; try again shortly.");
}

bool OrganizationRefresher::commitRetryingStoreFaults(const RefreshOutcome& outcome) {
    for (int attempt = 1;; ++attempt) {
        try {
            return store_.commitRefresh(outcome);
        } catch (const Error& error) {
            // The rotated refresh token is stored already; this is the access token, which a retry may still save.
            if (error.code() != ErrorCode::StoreUnavailable || attempt == kCommitAttempts) throw;
            logger_->warn("storing the refresh of organization {} failed, trying again: {}", outcome.orgId,
                          error.what());
            std::this_thread::sleep_for(kCommitRetryPause);
        }
    }
}

std::string OrganizationRefresher::openRefreshToken(const Connection& connection) {
    try {
        return cipher_.open(*connection.refreshToken, Connectivity::refreshTokenAssociatedData(connection.orgId));
    } catch (const TokenCipherError& error) {
        // Nothing else can stand in for the refresh token: the operator must configure its key again.
        logger_->error("refresh token of organization {} does not open: {}", connection.orgId, error.what());
        const std::string reported = std::to_string(connection.orgId) + "/" + connection.refreshToken->keyId;
        bool firstReport = false;
        {
            const std::lock_guard lock(keyMissingReportedMutex_);
            firstReport = keyMissingReported_.insert(reported).second;
        }
        if (firstReport) {
            store_.appendEvent(brokerEvent(
                connection.orgId, EventType::KeyMissing,
                "refresh token sealed under key '" + connection.refreshToken->keyId + "', which does not open it"));
        }
        throw Error(ErrorCode::StoreUnavailable,
                    "The stored refresh token does not open with the configured keys; the operator must configure "
                    "its key again.");
    }
}

void OrganizationRefresher::recordLoss(const Connection& connection, const SalesforceFailure& refusal) {
    const std::int64_t orgId = connection.orgId;
    const std::string reason = refusal.reason();
    ConnectionTransition transition;
    transition.expectedVersion = connection.version;
    transition.next = connection;
    transition.next.status = ConnectionStatus::Disconnected;
    transition.next.lastError = reason;
    transition.next.statusChangedAt = nowSeconds();
    transition.users = UserEffect::SuspendActiveUsers;
    transition.suspendReason = reason;
    transition.forgetAccessToken = true;
    transition.events.push_back(brokerEvent(orgId, EventType::Lost, reason));
    // The webhook gets Salesforce's error code alone (invalid_grant), the reason code the issue asks for.
    if (connection.status == ConnectionStatus::Connected) {
        transition.notification = outbox_.lost(transition.next, refusal.error);
    }
    if (!store_.applyTransition(transition)) answerForChangedConnection(orgId);
    logger_->error("organization {} lost its Salesforce connection: {}", orgId, reason);
    throw Error(ErrorCode::SyncSuspended, reason);
}

void OrganizationRefresher::answerForChangedConnection(std::int64_t orgId) {
    logger_->warn("connection of organization {} changed during its refresh; the outcome is dropped", orgId);
    throwIfRefused(store_.loadConnection(orgId));
    throw unavailable();
}

std::string OrganizationRefresher::nextLeaseOwner() {
    return leaseOwnerPrefix_ + "#" + std::to_string(attempts_.fetch_add(1, std::memory_order_relaxed) + 1);
}

}  // namespace bridge
