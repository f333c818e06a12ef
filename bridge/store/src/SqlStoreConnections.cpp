// SqlStore: connections, their state transitions, and the access tokens the broker keeps beside them.
#include <Poco/Data/Statement.h>
#include <Poco/Tuple.h>

#include "ConnectionColumns.h"
#include "EventColumns.h"
#include "NotificationRows.h"
#include "SqlStoreSessions.h"
#include "bridge/store/SqlStore.h"

using namespace Poco::Data::Keywords;

namespace bridge {

using namespace sql;  // the store's private helpers (src/*.h)

Connection SqlStore::readConnection(Session& session, std::int64_t orgId, bool forUpdate) {
    std::vector<ConnectionRow> rows;
    session << "SELECT " + std::string(kConnectionColumns) + " FROM connections WHERE org_id = ?" +
                   std::string(forUpdate ? lockRows() : ""),
        bind(Int64{orgId}), into(rows), now;
    if (rows.empty()) {
        Connection absent;
        absent.orgId = orgId;
        return absent;
    }
    return connectionFromRow(rows.front());
}

Connection SqlStore::loadConnection(std::int64_t orgId) {
    return withSession([&](Session& session) { return readConnection(session, orgId, false); });
}

bool SqlStore::applyTransition(const ConnectionTransition& transition) {
    // Writes the transition over a row at `currentVersion` (0: the row does not exist yet).
    auto write = [&](Session& session, std::int64_t currentVersion) {
        Connection next = transition.next;
        next.version = currentVersion + 1;
        writeConnection(session, next, currentVersion > 0, kWrittenByService, rowWriterOpener(session));
        const Int64 orgId = next.orgId;
        std::int64_t usersChanged = 0;
        Poco::Data::Statement users(session);
        switch (transition.users) {
            case UserEffect::None: break;
            case UserEffect::SuspendActiveUsers:
                users << "UPDATE users SET sync_suspended = 1, suspend_reason = ?, suspended_by_loss = 1 "
                         "WHERE org_id = ? AND active = 1 AND sync_suspended = 0",
                    bind(transition.suspendReason), bind(orgId);
                usersChanged = static_cast<std::int64_t>(users.execute());
                break;
            case UserEffect::LiftLossSuspensions:
                users << "UPDATE users SET sync_suspended = 0, suspend_reason = NULL, suspended_by_loss = 0 "
                         "WHERE org_id = ? AND suspended_by_loss = 1",
                    bind(orgId);
                usersChanged = static_cast<std::int64_t>(users.execute());
                break;
        }
        if (transition.forgetAccessToken) session << "DELETE FROM access_tokens WHERE org_id = ?", bind(orgId), now;
        insertEvents(session, EventColumns(transition.events), rowWriterOpener(session));
        if (transition.notification) insertNotification(session, *transition.notification, usersChanged);
    };
    // True: written; false: the version moved on; nullopt: the organization has no connection row yet.
    const std::optional<bool> written = inTransaction([&](Session& session) -> std::optional<bool> {
        const Connection current = readConnection(session, transition.next.orgId, true);
        if (transition.expectedVersion && *transition.expectedVersion != current.version) return false;
        if (current.version == 0) return std::nullopt;
        write(session, current.version);
        return true;
    });
    if (written) return *written;
    // The first row is inserted by a transaction of its own: on MySQL, two transactions that both locked the gap
    // where the row belongs deadlock when both insert it. Of concurrent first writers, the primary key admits one.
    try {
        inTransaction([&](Session& session) { write(session, 0); });
        return true;
    } catch (const DuplicateKey&) {
        if (transition.expectedVersion) return false;  // another writer created the row first
        return applyTransition(transition);            // unchecked: write over the row the other one created
    }
}

// --- access tokens ---

std::optional<StoredAccessToken> SqlStore::loadAccessToken(std::int64_t orgId) {
    return withSession([&](Session& session) -> std::optional<StoredAccessToken> {
        using TokenRow = Poco::Tuple<std::string, std::string, std::string, Int64>;
        std::vector<TokenRow> rows;
        session << "SELECT token_ct, token_key, instance_url, expires_at FROM access_tokens WHERE org_id = ?",
            bind(Int64{orgId}), into(rows), now;
        if (rows.empty()) return std::nullopt;
        const auto& row = rows.front();
        return StoredAccessToken{SealedToken{row.get<1>(), row.get<0>()}, row.get<2>(), row.get<3>()};
    });
}

bool SqlStore::leaseStillOwnedBy(Session& session, std::int64_t orgId, const std::string& owner) {
    // Expired or not: an expired lease that no one took since still shuts every other refresher out of the
    // presented token (it can only present it after taking the lease, which changes the owner).
    std::vector<std::string> owners;
    session << "SELECT owner FROM refresh_leases WHERE org_id = ?" + std::string(lockRows()), bind(Int64{orgId}),
        into(owners), now;
    return !owners.empty() && owners.front() == owner;
}

bool SqlStore::storeRotatedRefreshToken(const RotatedRefreshToken& rotation) {
    return inTransaction([&](Session& session) {
        if (!leaseStillOwnedBy(session, rotation.orgId, rotation.leaseOwner)) return false;
        Poco::Data::Statement update(session);
        update << "UPDATE connections SET refresh_token_ct = ?, refresh_token_key = ?, written_by = ?, "
                  "version = version + 1 WHERE org_id = ? AND status = ? AND refresh_token_ct = ?",
            bind(rotation.rotated.ciphertext), bind(rotation.rotated.keyId), bind(std::string(kWrittenByService)),
            bind(Int64{rotation.orgId}), bind(std::string(statusColumn(ConnectionStatus::Connected))),
            bind(rotation.presentedRefreshCiphertext);
        return update.execute() == 1;
    });
}

bool SqlStore::commitRefresh(const RefreshOutcome& outcome) {
    return inTransaction([&](Session& session) {
        if (!leaseStillOwnedBy(session, outcome.orgId, outcome.leaseOwner)) return false;
        const Int64 orgId = outcome.orgId;
        Poco::Data::Statement update(session);
        if (outcome.rotatedRefreshToken) {
            update << "UPDATE connections SET refresh_token_ct = ?, refresh_token_key = ?, last_refresh_at = ?, "
                      "written_by = ?, version = version + 1 "
                      "WHERE org_id = ? AND status = ? AND refresh_token_ct = ?",
                bind(outcome.rotatedRefreshToken->ciphertext), bind(outcome.rotatedRefreshToken->keyId),
                bind(Int64{outcome.refreshedAt}), bind(std::string(kWrittenByService)), bind(orgId),
                bind(std::string(statusColumn(ConnectionStatus::Connected))), bind(outcome.presentedRefreshCiphertext);
        } else {
            update << "UPDATE connections SET last_refresh_at = ?, written_by = ?, version = version + 1 "
                      "WHERE org_id = ? AND status = ? AND refresh_token_ct = ?",
                bind(Int64{outcome.refreshedAt}), bind(std::string(kWrittenByService)), bind(orgId),
                bind(std::string(statusColumn(ConnectionStatus::Connected))), bind(outcome.presentedRefreshCiphertext);
        }
        if (update.execute() != 1) return false;
        session << "DELETE FROM access_tokens WHERE org_id = ?", bind(orgId), now;
        session << "INSERT INTO access_tokens (org_id, token_ct, token_key, instance_url, expires_at) "
                   "VALUES (?, ?, ?, ?, ?)",
            bind(orgId), bind(outcome.accessToken.token.ciphertext), bind(outcome.accessToken.token.keyId),
            bind(outcome.accessToken.instanceUrl), bind(Int64{outcome.accessToken.expiresAt}), now;
        insertEvents(session, EventColumns(outcome.events), rowWriterOpener(session));
        return true;
    });
}

std::vector<std::int64_t> SqlStore::listIdleConnections(UnixSeconds lastRefreshBefore, int limit) {
    return withSession([&](Session& session) {
        std::vector<Int64> ids;
        session << "SELECT org_id FROM connections WHERE status = ? AND refresh_token_ct IS NOT NULL AND "
                   "(last_refresh_at IS NULL OR last_refresh_at < ?) "
                   "ORDER BY COALESCE(keepalive_attempt_at, 0), org_id LIMIT ?",
            bind(std::string(statusColumn(ConnectionStatus::Connected))), bind(Int64{lastRefreshBefore}),
            bind(Int64{limit}), into(ids), now;
        return std::vector<std::int64_t>(ids.begin(), ids.end());
    });
}

void SqlStore::recordKeepAliveAttempt(std::int64_t orgId, UnixSeconds at) {
    withSession([&](Session& session) {
        session << "UPDATE connections SET keepalive_attempt_at = ? WHERE org_id = ?", bind(Int64{at}), bind(orgId),
            now;
    });
}

}  // namespace bridge
