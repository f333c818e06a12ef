// SqlStore: access-token invalidations, numbered store-wide so that every instance can learn of them with one cheap
// query, and the generation each running instance has applied, under a lease on the database's clock (schema
// version 3).
#include <Poco/Data/Statement.h>
#include <Poco/Tuple.h>

#include "SqlStoreSessions.h"
#include "bridge/store/SqlStore.h"

using namespace Poco::Data::Keywords;

namespace bridge {

using namespace sql;  // the store's private helpers (src/*.h)

std::int64_t SqlStore::invalidateAccessToken(std::int64_t orgId) {
    // The generation; nullopt when the counter's one row does not exist yet.
    const std::optional<Int64> generation = inTransaction([&](Session& session) -> std::optional<Int64> {
        // Raising the counter locks its row until the commit, so invalidations commit in the order of their
        // generations: what listAccessTokenInvalidationsAfter relies on.
        Poco::Data::Statement raise(session);
        raise << "UPDATE access_token_invalidation_counter SET last_generation = last_generation + 1 WHERE id = 1";
        if (raise.execute() != 1) return std::nullopt;
        Int64 raised = 0;
        session << "SELECT last_generation FROM access_token_invalidation_counter WHERE id = 1", into(raised), now;
        // Every writer of this table holds the counter's row, so nobody else inserts the organization's row meanwhile.
        Poco::Data::Statement record(session);
        record << "UPDATE access_token_invalidations SET generation = ? WHERE org_id = ?", bind(raised),
            bind(Int64{orgId});
        if (record.execute() == 0) {
            session << "INSERT INTO access_token_invalidations (org_id, generation) VALUES (?, ?)", bind(Int64{orgId}),
                bind(raised), now;
        }
        session << "DELETE FROM access_tokens WHERE org_id = ?", bind(Int64{orgId}), now;
        return raised;
    });
    if (generation) return *generation;
    // The store's first invalidation creates the counter, in a transaction of its own (on MySQL, inserting under the
    // gap lock the UPDATE above took would deadlock two instances that both found no row).
    try {
        inTransaction([&](Session& session) {
            session << "INSERT INTO access_token_invalidation_counter (id, last_generation) VALUES (1, 0)", now;
        });
    } catch (const DuplicateKey&) {
        // another instance created it first
    }
    return invalidateAccessToken(orgId);
}

std::int64_t SqlStore::latestAccessTokenInvalidation() {
    return withSession([&](Session& session) -> std::int64_t {
        std::vector<Int64> generations;
        session << "SELECT last_generation FROM access_token_invalidation_counter WHERE id = 1", into(generations), now;
        return generations.empty() ? 0 : generations.front();
    });
}

std::vector<AccessTokenInvalidation> SqlStore::listAccessTokenInvalidationsAfter(std::int64_t generation) {
    return withSession([&](Session& session) {
        std::vector<Poco::Tuple<Int64, Int64>> rows;
        session << "SELECT org_id, generation FROM access_token_invalidations WHERE generation > ? ORDER BY generation",
            bind(Int64{generation}), into(rows), now;
        std::vector<AccessTokenInvalidation> invalidations;
        invalidations.reserve(rows.size());
        for (const auto& row : rows) invalidations.push_back({row.get<0>(), row.get<1>()});
        return invalidations;
    });
}

void SqlStore::recordAppliedInvalidation(const std::string& instanceId, std::int64_t generation,
                                         std::chrono::milliseconds lease) {
    const std::string nowMs(databaseNowMs());
    const Int64 leaseMs = lease.count();
    // Only the instance itself writes its row. MySQL counts an UPDATE that changes nothing as no row: then the
    // INSERT below finds the row and there is nothing to do.
    const bool updated = inTransaction([&](Session& session) {
        Poco::Data::Statement update(session);
        update << "UPDATE invalidation_followers SET applied_generation = ?, expires_at_ms = " + nowMs +
                      " + ? WHERE instance_id = ?",
            bind(Int64{generation}), bind(leaseMs), bind(instanceId);
        return update.execute() == 1;
    });
    if (updated) return;
    // The instance's first record, in a transaction of its own (on MySQL, inserting under the gap lock of the UPDATE
    // above could deadlock with another instance doing the same). Rows of instances gone for an hour go with it.
    try {
        inTransaction([&](Session& session) {
            session << "DELETE FROM invalidation_followers WHERE expires_at_ms < " + nowMs + " - 3600000", now;
            session << "INSERT INTO invalidation_followers (instance_id, applied_generation, expires_at_ms) "
                       "VALUES (?, ?, " +
                           nowMs + " + ?)",
                bind(instanceId), bind(Int64{generation}), bind(leaseMs), now;
        });
    } catch (const DuplicateKey&) {
        // the row exists and already said as much
    }
}

int SqlStore::countInstancesBehind(std::int64_t generation) {
    const std::string nowMs(databaseNowMs());
    return withSession([&](Session& session) {
        Int64 behind = 0;
        session << "SELECT COUNT(*) FROM invalidation_followers WHERE applied_generation < ? AND expires_at_ms > " +
                       nowMs,
            bind(Int64{generation}), into(behind), now;
        return static_cast<int>(behind);
    });
}

void SqlStore::forgetInstance(const std::string& instanceId) {
    inTransaction([&](Session& session) {
        session << "DELETE FROM invalidation_followers WHERE instance_id = ?", bind(instanceId), now;
    });
}

}  // namespace bridge
