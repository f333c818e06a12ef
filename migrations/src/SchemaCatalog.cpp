#include "migrations/SchemaCatalog.h"

#include <stdexcept>
#include <string>

namespace bridge::migrations {

namespace {

// The two dialects differ only in how a table declares its integer keys and its storage options; everything else
// is written once in portable SQL.
struct DialectWords {
    std::string_view integerKey;  // SQLite's INTEGER PRIMARY KEY is the row id itself: no separate key index
    std::string_view autoIncrementKey;
    std::string_view tableOptions;
};

std::string expand(std::string_view statement, const DialectWords& words) {
    std::string out(statement);
    auto replaceAll = [&out](std::string_view from, std::string_view to) {
        for (auto at = out.find(from); at != std::string::npos; at = out.find(from, at + to.size())) {
            out.replace(at, from.size(), to);
        }
    };
    replaceAll("{ID}", words.integerKey);
    replaceAll("{AUTO_ID}", words.autoIncrementKey);
    replaceAll("{TABLE}", words.tableOptions);
    return out;
}

// Version 1: organizations and users (their new-panel ids are computed from the legacy ones, see
// bridge/PublicIds.h), connections, shared access tokens, refresh leases,
// OAuth attempts, events and the legacy-id sequences.
constexpr std::string_view kVersion1[] = {
    R"(CREATE TABLE organizations (
        id {ID},
        name VARCHAR(255) NOT NULL,
        origin VARCHAR(16) NOT NULL,
        legacy_fingerprint VARCHAR(64) NULL,
        created_at BIGINT NOT NULL){TABLE})",
    R"(CREATE TABLE users (
        id {ID},
        org_id BIGINT NOT NULL,
        email VARCHAR(320) NOT NULL,
        email_key VARCHAR(320) NOT NULL,
        display_name VARCHAR(255) NULL,
        sf_user_id VARCHAR(18) NULL,
        active INTEGER NOT NULL,
        sync_suspended INTEGER NOT NULL,
        suspend_reason VARCHAR(512) NULL,
        suspended_by_loss INTEGER NOT NULL,
        origin VARCHAR(16) NOT NULL,
        UNIQUE (org_id, email_key)){TABLE})",
    R"(CREATE INDEX users_by_org ON users (org_id, id))",
    R"(CREATE TABLE connections (
        org_id {ID},
        login_enabled INTEGER NOT NULL,
        auth_method VARCHAR(32) NOT NULL,
        status VARCHAR(16) NOT NULL,
        environment VARCHAR(16) NULL,
        sa_user_id VARCHAR(18) NULL,
        sa_username VARCHAR(255) NULL,
        sf_org_id VARCHAR(18) NULL,
        instance_url VARCHAR(255) NULL,
        refresh_token_ct TEXT NULL,
        refresh_token_key VARCHAR(64) NULL,
        status_changed_at BIGINT NULL,
        connected_at BIGINT NULL,
        last_error VARCHAR(512) NULL,
        last_refresh_at BIGINT NULL,
        changed_by_admin_at BIGINT NULL,
        written_by VARCHAR(16) NOT NULL,
        version BIGINT NOT NULL){TABLE})",
    R"(CREATE INDEX connections_by_last_refresh ON connections (status, last_refresh_at))",
    R"(CREATE TABLE access_tokens (
        org_id {ID},
        token_ct TEXT NOT NULL,
        token_key VARCHAR(64) NOT NULL,
        instance_url VARCHAR(255) NOT NULL,
        expires_at BIGINT NOT NULL){TABLE})",
    R"(CREATE TABLE refresh_leases (
        org_id {ID},
        owner VARCHAR(64) NOT NULL,
        fence BIGINT NOT NULL,
        expires_at_ms BIGINT NOT NULL){TABLE})",
    R"(CREATE TABLE oauth_attempts (
        state_hash VARCHAR(64) NOT NULL PRIMARY KEY,
        org_id BIGINT NOT NULL,
        panel VARCHAR(8) NOT NULL,
        environment VARCHAR(16) NOT NULL,
        actor VARCHAR(255) NOT NULL,
        verifier_ct TEXT NOT NULL,
        verifier_key VARCHAR(64) NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT NULL){TABLE})",
    R"(CREATE TABLE events (
        id {AUTO_ID},
        org_id BIGINT NOT NULL,
        at BIGINT NOT NULL,
        type VARCHAR(32) NOT NULL,
        panel VARCHAR(8) NULL,
        actor VARCHAR(255) NULL,
        detail VARCHAR(1024) NULL){TABLE})",
    R"(CREATE INDEX events_by_org ON events (org_id, id))",
};

// Version 2: when keep-alive last tried each connection, whatever the outcome (Store::listIdleConnections).
// One statement: MySQL commits DDL at once, so a version made of one statement is applied whole or not at all
// (short of a crash between it and its schema_version row).
constexpr std::string_view kVersion2[] = {
    R"(ALTER TABLE connections ADD COLUMN keepalive_attempt_at BIGINT NULL)",
};

// Version 3: access-token invalidations (Store::invalidateAccessToken), so that every instance obeys one at its next
// grant: a counter of one row numbers them store-wide, and each organization keeps the number of its latest one.
// The unique key on the generation is the index that instances read the latest invalidations through. Each running
// instance records the generation it has applied, under a lease, so that an invalidation can wait for them all.
// MySQL commits each statement at once: IF NOT EXISTS lets the version be applied again after a crash between them.
constexpr std::string_view kVersion3[] = {
    R"(CREATE TABLE IF NOT EXISTS access_token_invalidation_counter (
        id {ID},
        last_generation BIGINT NOT NULL){TABLE})",
    R"(CREATE TABLE IF NOT EXISTS access_token_invalidations (
        org_id {ID},
        generation BIGINT NOT NULL,
        UNIQUE (generation)){TABLE})",
    R"(CREATE TABLE IF NOT EXISTS invalidation_followers (
        instance_id VARCHAR(64) NOT NULL PRIMARY KEY,
        applied_generation BIGINT NOT NULL,
        expires_at_ms BIGINT NOT NULL){TABLE})",
};

// Version 4 (issue 18): the webhook's outbox, written with the transitions it reports, and the one delivery lease.
// Every statement may run again (IF NOT EXISTS): MySQL commits each DDL statement at once, so a crash in the
// middle of the version leaves a part of it, which the next start completes.
constexpr std::string_view kVersion4[] = {
    R"(CREATE TABLE IF NOT EXISTS notifications (
        id {AUTO_ID},
        event_id VARCHAR(64) NOT NULL,
        org_id BIGINT NOT NULL,
        type VARCHAR(32) NOT NULL,
        environment VARCHAR(16) NULL,
        reason VARCHAR(512) NULL,
        occurred_at BIGINT NOT NULL,
        user_count BIGINT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        state VARCHAR(16) NOT NULL,
        attempts INTEGER NOT NULL,
        last_attempt_at_ms BIGINT NULL,
        next_attempt_at_ms BIGINT NOT NULL,
        delivered_at_ms BIGINT NULL,
        last_error VARCHAR(255) NULL,
        UNIQUE (event_id)){TABLE})",
    R"(CREATE INDEX IF NOT EXISTS notifications_by_org ON notifications (org_id, state, id))",
    R"(CREATE INDEX IF NOT EXISTS notifications_due ON notifications (state, next_attempt_at_ms))",
    R"(CREATE TABLE IF NOT EXISTS delivery_lease (
        name VARCHAR(32) NOT NULL PRIMARY KEY,
        owner VARCHAR(64) NOT NULL,
        expires_at_ms BIGINT NOT NULL){TABLE})",
};

std::vector<SchemaVersion> buildCatalog(const DialectWords& words) {
    SchemaVersion version1{1, {}};
    for (auto statement : kVersion1) version1.statements.push_back(expand(statement, words));
    SchemaVersion version2{2, {}};
    for (auto statement : kVersion2) version2.statements.push_back(expand(statement, words));
    SchemaVersion version3{3, {}};
    for (auto statement : kVersion3) version3.statements.push_back(expand(statement, words));
    SchemaVersion version4{4, {}};
    for (auto statement : kVersion4) version4.statements.push_back(expand(statement, words));
    return {version1, version2, version3, version4};
}

}  // namespace

const std::vector<SchemaVersion>& schemaVersions(std::string_view sqlDialect) {
    static const std::vector<SchemaVersion> sqlite =
        buildCatalog({"INTEGER NOT NULL PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT", ""});
    static const std::vector<SchemaVersion> mysql =
        buildCatalog({"BIGINT NOT NULL PRIMARY KEY", "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
                      " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"});
    if (sqlDialect == "sqlite") return sqlite;
    if (sqlDialect == "mysql") return mysql;
    throw std::invalid_argument("unknown SQL dialect " + std::string(sqlDialect));
}

int upgradeSchema(Store& store) { return store.applySchema(schemaVersions(store.sqlDialect())); }

}  // namespace bridge::migrations
