// SqlStore: the refresh lease that lets one instance at a time refresh an organization's token.
#include <Poco/Data/Statement.h>

#include "SqlStoreSessions.h"
#include "bridge/store/SqlStore.h"

using namespace Poco::Data::Keywords;

namespace bridge {

using namespace sql;  // the store's private helpers (src/*.h)

bool SqlStore::tryAcquireRefreshLease(std::int64_t orgId, const std::string& owner, std::int64_t nowMs,
                                      std::int64_t leaseUntilMs) {
    // True: taken (free, expired or already ours); false: held by another owner; nullopt: no lease row yet.
    const std::optional<bool> taken = inTransaction([&](Session& session) -> std::optional<bool> {
        Poco::Data::Statement take(session);
        take << "UPDATE refresh_leases SET owner = ?, fence = fence + 1, expires_at_ms = ? "
                "WHERE org_id = ? AND (expires_at_ms <= ? OR owner = ?)",
            bind(owner), bind(Int64{leaseUntilMs}), bind(Int64{orgId}), bind(Int64{nowMs}), bind(owner);
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
            session << "INSERT INTO refresh_leases (org_id, owner, fence, expires_at_ms) VALUES (?, ?, 1, ?)",
                bind(Int64{orgId}), bind(owner), bind(Int64{leaseUntilMs}), now;
        });
        return true;
    } catch (const DuplicateKey&) {
        return false;  // another instance created the lease first
    }
}

void SqlStore::releaseRefreshLease(std::int64_t orgId, const std::string& owner) {
    inTransaction([&](Session& session) {
        session << "UPDATE refresh_leases SET expires_at_ms = 0 WHERE org_id = ? AND owner = ?", bind(Int64{orgId}),
            bind(owner), now;
    });
}

}  // namespace bridge
