// SqlStore: the refresh lease that lets one instance at a time refresh an organization's token. Every time is the
// database's clock (databaseNowMs), so hosts whose clocks disagree still agree on when a lease ends.
#include <Poco/Data/Statement.h>

#include "SqlStoreSessions.h"
#include "bridge/store/SqlStore.h"

using namespace Poco::Data::Keywords;

namespace bridge {

using namespace sql;  // the store's private helpers (src/*.h)

bool SqlStore::tryAcquireRefreshLease(std::int64_t orgId, const std::string& owner,
                                      std::chrono::milliseconds duration) {
    const std::string nowMs(databaseNowMs());
    const Int64 durationMs = duration.count();
    // True: taken (free, expired or already ours); false: held by another owner; nullopt: no lease row yet.
    const std::optional<bool> taken = inTransaction([&](Session& session) -> std::optional<bool> {
        Poco::Data::Statement take(session);
        take << "UPDATE refresh_leases SET owner = ?, fence = fence + 1, expires_at_ms = " + nowMs +
                    " + ? WHERE org_id = ? AND (expires_at_ms <= " + nowMs + " OR owner = ?)",
            bind(owner), bind(durationMs), bind(Int64{orgId}), bind(owner);
        if (take.execute() == 1) return true;
        Int64 existing = 0;
        session << "SELECT COUNT(*) FROM refresh_leases WHERE org_id = ?", bind(Int64{orgId}), into(existing), now;
        if (existing > 0) return false;
        return std::nullopt;
    });
    if (taken) return *taken;
    // The organization's first lease, inserted in a transaction of its own: on MySQL, inserting while still
    // holding the gap lock of the UPDATE above deadlocks two instances that both found no row.
    try {
        inTransaction([&](Session& session) {
            session << "INSERT INTO refresh_leases (org_id, owner, fence, expires_at_ms) VALUES (?, ?, 1, " + nowMs +
                           " + ?)",
                bind(Int64{orgId}), bind(owner), bind(durationMs), now;
        });
        return true;
    } catch (const DuplicateKey&) {
        return false;  // another instance created the lease first
    }
}

bool SqlStore::renewRefreshLease(std::int64_t orgId, const std::string& owner, std::chrono::milliseconds duration) {
    const std::string nowMs(databaseNowMs());
    return inTransaction([&](Session& session) {
        // Read first, then write: MySQL counts an UPDATE that changes nothing (two renewals within a millisecond)
        // as no row, which must not read as a lost lease.
        Int64 held = 0;
        session << "SELECT COUNT(*) FROM refresh_leases WHERE org_id = ? AND owner = ? AND expires_at_ms > " + nowMs +
                       std::string(lockRows()),
            bind(Int64{orgId}), bind(owner), into(held), now;
        if (held == 0) return false;
        session << "UPDATE refresh_leases SET expires_at_ms = " + nowMs + " + ? WHERE org_id = ? AND owner = ?",
            bind(Int64{duration.count()}), bind(Int64{orgId}), bind(owner), now;
        return true;
    });
}

void SqlStore::releaseRefreshLease(std::int64_t orgId, const std::string& owner) {
    inTransaction([&](Session& session) {
        session << "UPDATE refresh_leases SET expires_at_ms = 0 WHERE org_id = ? AND owner = ?", bind(Int64{orgId}),
            bind(owner), now;
    });
}

}  // namespace bridge
