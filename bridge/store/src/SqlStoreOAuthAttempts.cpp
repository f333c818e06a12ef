// SqlStore: OAuth login attempts, each consumed at most once.
#include <Poco/Data/Statement.h>
#include <Poco/Tuple.h>

#include "SqlStoreSessions.h"
#include "bridge/store/SqlStore.h"

using namespace Poco::Data::Keywords;

namespace bridge {

using namespace sql;  // the store's private helpers (src/*.h)

void SqlStore::insertOAuthAttempt(const OAuthAttempt& attempt) {
    inTransaction([&](Session& session) {
        // Expired attempts are of no use to anyone: sweep them while writing a new one.
        session << "DELETE FROM oauth_attempts WHERE expires_at < ?", bind(Int64{attempt.expiresAt - 24 * 3600}), now;
        session << "INSERT INTO oauth_attempts (state_hash, org_id, panel, environment, actor, verifier_ct, "
                   "verifier_key, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            bind(attempt.stateHash), bind(Int64{attempt.orgId}), bind(std::string(panelColumn(attempt.panel))),
            bind(std::string(environmentColumn(attempt.environment))), bind(attempt.actor),
            bind(attempt.codeVerifier.ciphertext), bind(attempt.codeVerifier.keyId), bind(Int64{attempt.expiresAt}),
            now;
    });
}

namespace {

using AttemptRow = Poco::Tuple<Int64, std::string, std::string, std::string, std::string, std::string, Int64>;

std::optional<OAuthAttempt> readAttempt(Session& session, const std::string& stateHash) {
    std::vector<AttemptRow> rows;
    session << "SELECT org_id, panel, environment, actor, verifier_ct, verifier_key, expires_at "
               "FROM oauth_attempts WHERE state_hash = ?",
        bind(stateHash), into(rows), now;
    if (rows.empty()) return std::nullopt;
    const auto& row = rows.front();
    OAuthAttempt attempt;
    attempt.stateHash = stateHash;
    attempt.orgId = row.get<0>();
    attempt.panel = panelFromColumn(row.get<1>());
    attempt.environment = environmentFromColumn(row.get<2>());
    attempt.actor = row.get<3>();
    attempt.codeVerifier = SealedToken{row.get<5>(), row.get<4>()};
    attempt.expiresAt = row.get<6>();
    return attempt;
}

}  // namespace

std::optional<OAuthAttempt> SqlStore::consumeOAuthAttempt(const std::string& stateHash, UnixSeconds nowAt) {
    return inTransaction([&](Session& session) -> std::optional<OAuthAttempt> {
        Poco::Data::Statement claim(session);
        claim << "UPDATE oauth_attempts SET used_at = ? WHERE state_hash = ? AND used_at IS NULL AND expires_at > ?",
            bind(Int64{nowAt}), bind(stateHash), bind(Int64{nowAt});
        if (claim.execute() != 1) return std::nullopt;
        return readAttempt(session, stateHash);
    });
}

std::optional<OAuthAttempt> SqlStore::findOAuthAttempt(const std::string& stateHash) {
    return withSession([&](Session& session) { return readAttempt(session, stateHash); });
}

}  // namespace bridge
