// SqlStore: the sealed columns as `bridge rekey` walks and rewrites them, each row compare-and-set on the
// ciphertext it was read with.
#include <Poco/Data/Statement.h>
#include <Poco/Tuple.h>

#include "SqlStoreSessions.h"
#include "bridge/store/SqlStore.h"

using namespace Poco::Data::Keywords;

namespace bridge {

using namespace sql;  // the store's private helpers (src/*.h)

namespace {

// Where a sealed column lives. Identifiers only, never built from input.
struct SealedColumnPlace {
    std::string_view table;
    std::string_view idColumn;  // org_id, or state_hash for the code verifiers
    std::string_view ciphertextColumn;
    std::string_view keyColumn;
    bool byOrganization;
};

SealedColumnPlace placeOf(SealedColumn column) {
    switch (column) {
        case SealedColumn::RefreshToken:
            return {"connections", "org_id", "refresh_token_ct", "refresh_token_key", true};
        case SealedColumn::AccessToken: return {"access_tokens", "org_id", "token_ct", "token_key", true};
        case SealedColumn::CodeVerifier: return {"oauth_attempts", "state_hash", "verifier_ct", "verifier_key", false};
    }
    throw std::logic_error("unknown sealed column");
}

std::string notUnderKey(const SealedColumnPlace& place) {
    return std::string(place.ciphertextColumn) + " IS NOT NULL AND " + std::string(place.keyColumn) + " <> ?";
}

}  // namespace

std::vector<SealedRow> SqlStore::listSealedNotUnder(SealedColumn column, const std::string& activeKeyId,
                                                    const SealedRowId& after, int limit) {
    const SealedColumnPlace place = placeOf(column);
    const std::string selected = std::string(place.idColumn) + ", " + std::string(place.ciphertextColumn) + ", " +
                                 std::string(place.keyColumn) +
                                 (column == SealedColumn::AccessToken ? ", instance_url, expires_at" : "");
    const std::string query = "SELECT " + selected + " FROM " + std::string(place.table) + " WHERE " +
                              notUnderKey(place) + " AND " + std::string(place.idColumn) + " > ? ORDER BY " +
                              std::string(place.idColumn) + " LIMIT ?";
    return withSession([&](Session& session) {
        std::vector<SealedRow> rows;
        switch (column) {
            case SealedColumn::RefreshToken: {
                std::vector<Poco::Tuple<Int64, std::string, std::string>> read;
                session << query, bind(activeKeyId), bind(Int64{after.orgId}), bind(Int64{limit}), into(read), now;
                for (const auto& row : read) {
                    rows.push_back(
                        SealedRow{SealedRowId{row.get<0>(), {}}, SealedToken{row.get<2>(), row.get<1>()}, {}, 0});
                }
                break;
            }
            case SealedColumn::AccessToken: {
                std::vector<Poco::Tuple<Int64, std::string, std::string, std::string, Int64>> read;
                session << query, bind(activeKeyId), bind(Int64{after.orgId}), bind(Int64{limit}), into(read), now;
                for (const auto& row : read) {
                    rows.push_back(SealedRow{SealedRowId{row.get<0>(), {}}, SealedToken{row.get<2>(), row.get<1>()},
                                             row.get<3>(), row.get<4>()});
                }
                break;
            }
            case SealedColumn::CodeVerifier: {
                std::vector<Poco::Tuple<std::string, std::string, std::string>> read;
                session << query, bind(activeKeyId), bind(after.stateHash), bind(Int64{limit}), into(read), now;
                for (const auto& row : read) {
                    rows.push_back(
                        SealedRow{SealedRowId{0, row.get<0>()}, SealedToken{row.get<2>(), row.get<1>()}, {}, 0});
                }
                break;
            }
        }
        return rows;
    });
}

std::int64_t SqlStore::countSealedNotUnder(SealedColumn column, const std::string& activeKeyId) {
    const SealedColumnPlace place = placeOf(column);
    return withSession([&](Session& session) {
        Int64 count = 0;
        session << "SELECT COUNT(*) FROM " + std::string(place.table) + " WHERE " + notUnderKey(place),
            bind(activeKeyId), into(count), now;
        return static_cast<std::int64_t>(count);
    });
}

int SqlStore::resealIfUnchanged(SealedColumn column, const std::vector<Reseal>& batch) {
    if (batch.empty()) return 0;
    const SealedColumnPlace place = placeOf(column);
    // A refresh token is rewritten only while no refresh of its organization is in flight: the refresh commits
    // on the ciphertext it presented, and must not find it changed under it. The lease row is locked (MySQL) or
    // the whole database is (SQLite's write transaction), so no refresh starts before this transaction ends.
    // The connection's version moves on, so that an admin's change read before this one is retried on the new row.
    const bool refreshToken = column == SealedColumn::RefreshToken;
    const std::string update = "UPDATE " + std::string(place.table) + " SET " + std::string(place.ciphertextColumn) +
                               " = ?, " + std::string(place.keyColumn) + " = ?" +
                               (refreshToken ? ", version = version + 1" : "") + " WHERE " +
                               std::string(place.idColumn) + " = ? AND " + std::string(place.ciphertextColumn) + " = ?";
    // Live by the database's clock, as the leases themselves.
    const std::string leaseQuery = "SELECT COUNT(*) FROM refresh_leases WHERE org_id = ? AND expires_at_ms > " +
                                   std::string(databaseNowMs()) + std::string(lockRows());
    return inTransaction([&](Session& session) {
        int rewritten = 0;
        for (const Reseal& reseal : batch) {
            if (refreshToken) {
                Int64 liveLeases = 0;
                session << leaseQuery, bind(Int64{reseal.id.orgId}), into(liveLeases), now;
                if (liveLeases > 0) continue;  // left for the next pass
            }
            Poco::Data::Statement statement(session);
            statement << update, bind(reseal.resealed.ciphertext), bind(reseal.resealed.keyId);
            if (place.byOrganization) {
                statement, bind(Int64{reseal.id.orgId});
            } else {
                statement, bind(reseal.id.stateHash);
            }
            statement, bind(reseal.readCiphertext);
            rewritten += static_cast<int>(statement.execute());
        }
        return rewritten;
    });
}

}  // namespace bridge
