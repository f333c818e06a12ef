#include "bridge/SqlStore.h"

#include <Poco/Data/Statement.h>
#include <Poco/Nullable.h>
#include <Poco/Tuple.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <thread>
#include <type_traits>

#include "bridge/Error.h"
#include "bridge/Logging.h"
#include "bridge/PublicIds.h"
#include "mappings/Emails.h"

using namespace Poco::Data::Keywords;
using Poco::Int64;
using Poco::Nullable;
using Poco::Data::Session;

namespace bridge {

namespace {

constexpr std::string_view kOriginMigration = "migration";
constexpr std::string_view kOriginPanel = "panel";
constexpr std::string_view kWrittenByMigration = "migration";
constexpr std::string_view kWrittenByService = "service";
constexpr int kIdAllocationAttempts = 32;

UnixSeconds nowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Writers that took the same next id wait a random while before reading the highest id again, so that they stop
// colliding: without it, eight writers at once can starve one of them through every attempt.
void backOffBeforeAllocatingAgain(int attempt) {
    thread_local std::minstd_rand random{std::random_device{}()};
    std::uniform_int_distribution<int> delayMs(0, 1 << std::min(attempt, 5));
    std::this_thread::sleep_for(std::chrono::milliseconds(delayMs(random)));
}

template <typename T>
Nullable<T> toNullable(const std::optional<T>& value) {
    return value ? Nullable<T>(*value) : Nullable<T>();
}

template <typename T>
std::optional<T> toOptional(const Nullable<T>& value) {
    return value.isNull() ? std::nullopt : std::optional<T>(value.value());
}

// How the store spells a connection status and an environment in its own columns. These are storage
// identifiers, not either panel's wire names (those live in mappings/).
std::string_view statusColumn(ConnectionStatus status) {
    switch (status) {
        case ConnectionStatus::NotConnected: return "not_connected";
        case ConnectionStatus::Connected: return "connected";
        case ConnectionStatus::Disconnected: return "disconnected";
    }
    return "not_connected";
}

ConnectionStatus statusFromColumn(const std::string& value) {
    if (value == "connected") return ConnectionStatus::Connected;
    if (value == "disconnected") return ConnectionStatus::Disconnected;
    return ConnectionStatus::NotConnected;
}

std::string_view environmentColumn(Environment environment) {
    return environment == Environment::Sandbox ? "sandbox" : "production";
}

Environment environmentFromColumn(const std::string& value) {
    return value == "sandbox" ? Environment::Sandbox : Environment::Production;
}

std::string_view panelColumn(Panel panel) { return panel == Panel::Legacy ? "legacy" : "modern"; }

Panel panelFromColumn(const std::string& value) { return value == "legacy" ? Panel::Legacy : Panel::Modern; }

using UserRow = Poco::Tuple<Int64, std::string, Int64, std::string, Nullable<std::string>, Nullable<std::string>,
                            Int64, Int64, Nullable<std::string>, Int64>;
constexpr std::string_view kUserColumns =
    "id, public_id, org_id, email, display_name, sf_user_id, active, sync_suspended, suspend_reason, "
    "suspended_by_loss";

User userFromRow(const UserRow& row) {
    User user;
    user.legacyId = row.get<0>();
    user.publicId = row.get<1>();
    user.orgId = row.get<2>();
    user.email = row.get<3>();
    user.displayName = toOptional(row.get<4>());
    user.salesforceUserId = toOptional(row.get<5>());
    user.active = row.get<6>() != 0;
    user.syncSuspended = row.get<7>() != 0;
    user.suspendReason = toOptional(row.get<8>());
    user.suspendedByLoss = row.get<9>() != 0;
    return user;
}

using OrganizationRow = Poco::Tuple<Int64, std::string, std::string>;

Organization organizationFromRow(const OrganizationRow& row) { return {row.get<0>(), row.get<1>(), row.get<2>()}; }

// A write that a unique key refused. An id allocation that lost a race catches it and tries again; any other
// caller sees the store's failure like every other database error.
class DuplicateKey : public Error {
public:
    DuplicateKey() : Error(ErrorCode::StoreUnavailable, "The store is unavailable; try again shortly.") {}
};

void rollbackQuietly(Session& session) {
    try {
        session << "ROLLBACK", now;
    } catch (const Poco::Exception& error) {
        // The transaction is gone with the connection; the pool discards a broken session.
        logger("store")->warn("rollback failed: {}", error.displayText());
    }
}

}  // namespace

bool OrganizationScope::allows(std::int64_t legacyId) const {
    if (all) return true;
    for (auto id : legacyIds) {
        if (id == legacyId) return true;
    }
    return false;
}

template <typename Work>
auto SqlStore::withSession(Work&& work) {
    // Hands the session back to the backend on every way out, telling it whether the connection still works.
    struct Lease {
        SqlStore& store;
        std::optional<Session> session;
        bool broken = false;
        ~Lease() {
            if (session) store.releaseSession(*session, broken);
        }
    } lease{*this, std::nullopt};
    try {
        lease.session.emplace(openSession());
        return work(*lease.session);
    } catch (const Error&) {
        throw;
    } catch (const Poco::Exception& error) {
        if (isDuplicateKey(error)) {
            logger("store")->debug("write refused by a unique key: {}", error.displayText());
            throw DuplicateKey();
        }
        lease.broken = true;
        logger("store")->error("store unavailable: {}", error.displayText());
        throw Error(ErrorCode::StoreUnavailable, "The store is unavailable; try again shortly.");
    }
}

template <typename Work>
auto SqlStore::inTransaction(Work&& work) {
    std::unique_lock<std::mutex> serialized;
    if (std::mutex* writers = writeSerializer()) serialized = std::unique_lock(*writers);
    return withSession([&](Session& session) {
        session << std::string(beginWrite()), now;
        try {
            if constexpr (std::is_void_v<std::invoke_result_t<Work&, Session&>>) {
                work(session);
                session << "COMMIT", now;
            } else {
                auto result = work(session);
                session << "COMMIT", now;
                return result;
            }
        } catch (...) {
            rollbackQuietly(session);
            throw;
        }
    });
}

// --- schema ---

int SqlStore::schemaVersion() {
    return withSession([](Session& session) {
        session << "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", now;
        Nullable<Int64> version;
        session << "SELECT MAX(version) FROM schema_version", into(version), now;
        return version.isNull() ? 0 : static_cast<int>(version.value());
    });
}

int SqlStore::applySchema(const std::vector<SchemaVersion>& versions) {
    return withSession([&](Session& session) {
        int reached = 0;
        withSchemaLock(session, [&] {
            session << "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", now;
            Nullable<Int64> current;
            session << "SELECT MAX(version) FROM schema_version", into(current), now;
            reached = current.isNull() ? 0 : static_cast<int>(current.value());
            for (const auto& version : versions) {
                if (version.version <= reached) continue;
                for (const auto& statement : version.statements) session << statement, now;
                session << "INSERT INTO schema_version (version) VALUES (?)", bind(Int64{version.version}), now;
                reached = version.version;
                logger("store")->info("store schema at version {}", reached);
            }
        });
        return reached;
    });
}

bool SqlStore::ping() {
    try {
        return withSession([](Session& session) {
            Int64 one = 0;
            session << "SELECT 1", into(one), now;
            return one == 1;
        });
    } catch (const Error&) {
        return false;
    }
}

// --- organizations ---

std::vector<Organization> SqlStore::listOrganizations(const OrganizationScope& scope, std::int64_t afterLegacyId,
                                                      int limit) {
    return withSession([&](Session& session) {
        std::vector<Organization> organizations;
        if (!scope.all) {
            // An org-admin's scope is a short list from the token: look each id up rather than build an IN list.
            std::vector<std::int64_t> ids = scope.legacyIds;
            std::sort(ids.begin(), ids.end());
            ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
            for (auto id : ids) {
                if (id <= afterLegacyId || static_cast<int>(organizations.size()) >= limit) continue;
                std::vector<OrganizationRow> rows;
                session << "SELECT id, public_id, name FROM organizations WHERE id = ?", bind(Int64{id}), into(rows),
                    now;
                for (const auto& row : rows) organizations.push_back(organizationFromRow(row));
            }
            return organizations;
        }
        std::vector<OrganizationRow> rows;
        session << "SELECT id, public_id, name FROM organizations WHERE id > ? ORDER BY id LIMIT ?",
            bind(Int64{afterLegacyId}), bind(Int64{limit}), into(rows), now;
        for (const auto& row : rows) organizations.push_back(organizationFromRow(row));
        return organizations;
    });
}

std::optional<Organization> SqlStore::findOrganization(std::int64_t legacyId) {
    return withSession([&](Session& session) -> std::optional<Organization> {
        std::vector<OrganizationRow> rows;
        session << "SELECT id, public_id, name FROM organizations WHERE id = ?", bind(Int64{legacyId}), into(rows),
            now;
        if (rows.empty()) return std::nullopt;
        return organizationFromRow(rows.front());
    });
}

std::optional<Organization> SqlStore::findOrganizationByPublicId(const std::string& publicId) {
    return withSession([&](Session& session) -> std::optional<Organization> {
        std::vector<OrganizationRow> rows;
        session << "SELECT id, public_id, name FROM organizations WHERE public_id = ?", bind(publicId), into(rows),
            now;
        if (rows.empty()) return std::nullopt;
        return organizationFromRow(rows.front());
    });
}

Organization SqlStore::createOrganization(const std::string& name, std::int64_t firstNewLegacyId) {
    // Two instances may pick the same next id at once; the primary key refuses the second, which tries again.
    for (int attempt = 0; attempt < kIdAllocationAttempts; ++attempt) {
        try {
            return inTransaction([&](Session& session) {
                Nullable<Int64> highest;
                session << "SELECT MAX(id) FROM organizations WHERE id >= ?", bind(Int64{firstNewLegacyId}),
                    into(highest), now;
                Organization organization;
                organization.legacyId = highest.isNull() ? firstNewLegacyId : highest.value() + 1;
                organization.publicId = profileIdFor(organization.legacyId);
                organization.name = name;
                session << "INSERT INTO organizations (id, public_id, name, origin, created_at) VALUES (?, ?, ?, ?, ?)",
                    bind(Int64{organization.legacyId}), bind(organization.publicId), bind(name),
                    bind(std::string(kOriginPanel)), bind(Int64{nowSeconds()}), now;
                return organization;
            });
        } catch (const DuplicateKey&) {
            backOffBeforeAllocatingAgain(attempt);  // another writer took the id first
        }
    }
    throw Error(ErrorCode::StoreUnavailable, "Could not allocate an organization id; try again.");
}

// --- users ---

std::int64_t SqlStore::countUsers(std::int64_t orgId) {
    return withSession([&](Session& session) {
        Int64 count = 0;
        session << "SELECT COUNT(*) FROM users WHERE org_id = ?", bind(Int64{orgId}), into(count), now;
        return static_cast<std::int64_t>(count);
    });
}

std::vector<User> SqlStore::listUsersByOffset(std::int64_t orgId, std::int64_t offset, int limit) {
    return withSession([&](Session& session) {
        std::vector<UserRow> rows;
        session << "SELECT " + std::string(kUserColumns) +
                       " FROM users WHERE org_id = ? ORDER BY id LIMIT ? OFFSET ?",
            bind(Int64{orgId}), bind(Int64{limit}), bind(Int64{offset}), into(rows), now;
        std::vector<User> users;
        users.reserve(rows.size());
        for (const auto& row : rows) users.push_back(userFromRow(row));
        return users;
    });
}

std::vector<User> SqlStore::listUsersAfter(std::int64_t orgId, std::int64_t afterLegacyId, int limit) {
    return withSession([&](Session& session) {
        std::vector<UserRow> rows;
        session << "SELECT " + std::string(kUserColumns) + " FROM users WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?",
            bind(Int64{orgId}), bind(Int64{afterLegacyId}), bind(Int64{limit}), into(rows), now;
        std::vector<User> users;
        users.reserve(rows.size());
        for (const auto& row : rows) users.push_back(userFromRow(row));
        return users;
    });
}

std::optional<User> SqlStore::readUser(Session& session, const std::string& where, const std::string& key,
                                       std::int64_t id) {
    std::vector<UserRow> rows;
    const std::string sql = "SELECT " + std::string(kUserColumns) + " FROM users WHERE " + where + " = ?";
    if (key.empty()) {
        session << sql, bind(Int64{id}), into(rows), now;
    } else {
        session << sql, bind(key), into(rows), now;
    }
    if (rows.empty()) return std::nullopt;
    return userFromRow(rows.front());
}

std::optional<User> SqlStore::findUser(std::int64_t legacyId) {
    return withSession([&](Session& session) { return readUser(session, "id", {}, legacyId); });
}

std::optional<User> SqlStore::findUserByPublicId(const std::string& publicId) {
    return withSession([&](Session& session) { return readUser(session, "public_id", publicId, 0); });
}

User SqlStore::createUser(const NewUser& newUser, std::int64_t firstNewLegacyId) {
    const std::string emailKey = mappings::normalizeEmail(newUser.email);
    for (int attempt = 0; attempt < kIdAllocationAttempts; ++attempt) {
        try {
            return inTransaction([&](Session& session) {
                Int64 taken = 0;
                session << "SELECT COUNT(*) FROM users WHERE org_id = ? AND email_key = ?", bind(Int64{newUser.orgId}),
                    bind(emailKey), into(taken), now;
                if (taken > 0) throw Error(ErrorCode::EmailTaken, "The organization already has a user with this email.");
                Nullable<Int64> highest;
                session << "SELECT MAX(id) FROM users WHERE id >= ?", bind(Int64{firstNewLegacyId}), into(highest), now;
                User user;
                user.legacyId = highest.isNull() ? firstNewLegacyId : highest.value() + 1;
                user.publicId = userIdFor(user.legacyId);
                user.orgId = newUser.orgId;
                user.email = newUser.email;
                user.displayName = newUser.displayName;
                user.salesforceUserId = newUser.salesforceUserId;
                user.active = newUser.active;
                session << "INSERT INTO users (id, public_id, org_id, email, email_key, display_name, sf_user_id, active, "
                           "sync_suspended, suspend_reason, suspended_by_loss, origin) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, 0, ?)",
                    bind(Int64{user.legacyId}), bind(user.publicId), bind(Int64{user.orgId}), bind(user.email),
                    bind(emailKey), bind(toNullable(user.displayName)), bind(toNullable(user.salesforceUserId)),
                    bind(Int64{user.active ? 1 : 0}), bind(std::string(kOriginPanel)), now;
                return user;
            });
        } catch (const DuplicateKey&) {
            // The email unique key also refuses a concurrent twin: tell which one it was.
            if (withSession([&](Session& session) {
                    Int64 taken = 0;
                    session << "SELECT COUNT(*) FROM users WHERE org_id = ? AND email_key = ?",
                        bind(Int64{newUser.orgId}), bind(emailKey), into(taken), now;
                    return taken > 0;
                })) {
                throw Error(ErrorCode::EmailTaken, "The organization already has a user with this email.");
            }
            backOffBeforeAllocatingAgain(attempt);
        }
    }
    throw Error(ErrorCode::StoreUnavailable, "Could not allocate a user id; try again.");
}

User SqlStore::updateUser(std::int64_t legacyId, const UserChanges& changes) {
    return inTransaction([&](Session& session) {
        auto user = readUser(session, "id", {}, legacyId);
        if (!user) throw Error(ErrorCode::UserNotFound, "No such user.");
        if (changes.displayName) user->displayName = *changes.displayName;
        if (changes.salesforceUserId) user->salesforceUserId = *changes.salesforceUserId;
        if (changes.active) user->active = *changes.active;
        session << "UPDATE users SET display_name = ?, sf_user_id = ?, active = ? WHERE id = ?",
            bind(toNullable(user->displayName)), bind(toNullable(user->salesforceUserId)),
            bind(Int64{user->active ? 1 : 0}), bind(Int64{legacyId}), now;
        return *user;
    });
}

bool SqlStore::hasActiveEndUser(std::int64_t orgId, const std::string& salesforceUserId18,
                                const std::vector<std::string>& emailKeys) {
    return withSession([&](Session& session) {
        Int64 matches = 0;
        // Ids are stored in their 18-character form; compare case-insensitively as Salesforce does.
        session << "SELECT COUNT(*) FROM users WHERE org_id = ? AND active = 1 AND UPPER(sf_user_id) = UPPER(?)",
            bind(Int64{orgId}), bind(salesforceUserId18), into(matches), now;
        for (const auto& emailKey : emailKeys) {
            if (matches > 0) break;
            session << "SELECT COUNT(*) FROM users WHERE org_id = ? AND active = 1 AND email_key = ?",
                bind(Int64{orgId}), bind(emailKey), into(matches), now;
        }
        return matches > 0;
    });
}

// --- connections ---

namespace {

using ConnectionRow =
    Poco::Tuple<Int64, Int64, std::string, std::string, Nullable<std::string>, Nullable<std::string>,
                Nullable<std::string>, Nullable<std::string>, Nullable<std::string>, Nullable<std::string>,
                Nullable<std::string>, Nullable<Int64>, Nullable<Int64>, Nullable<std::string>, Nullable<Int64>,
                Nullable<Int64>, Int64>;

constexpr std::string_view kConnectionColumns =
    "org_id, login_enabled, auth_method, status, environment, sa_user_id, sa_username, sf_org_id, instance_url, "
    "refresh_token_ct, refresh_token_key, status_changed_at, connected_at, last_error, last_refresh_at, "
    "changed_by_admin_at, version";

Connection connectionFromRow(const ConnectionRow& row) {
    Connection connection;
    connection.orgId = row.get<0>();
    connection.serviceAccountLoginEnabled = row.get<1>() != 0;
    connection.authorizationMethod = row.get<2>();
    connection.status = statusFromColumn(row.get<3>());
    if (!row.get<4>().isNull()) connection.environment = environmentFromColumn(row.get<4>().value());
    connection.serviceAccountUserId = toOptional(row.get<5>());
    connection.serviceAccountUsername = toOptional(row.get<6>());
    connection.salesforceOrgId = toOptional(row.get<7>());
    connection.instanceUrl = toOptional(row.get<8>());
    if (!row.get<9>().isNull() && !row.get<10>().isNull()) {
        connection.refreshToken = SealedToken{row.get<10>().value(), row.get<9>().value()};
    }
    connection.statusChangedAt = toOptional(row.get<11>());
    connection.connectedAt = toOptional(row.get<12>());
    connection.lastError = toOptional(row.get<13>());
    connection.lastRefreshAt = toOptional(row.get<14>());
    connection.changedByAdminAt = toOptional(row.get<15>());
    connection.version = row.get<16>();
    return connection;
}

}  // namespace

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

void SqlStore::writeConnection(Session& session, const Connection& c, bool exists, std::string_view writtenBy) {
    Nullable<std::string> environment =
        c.environment ? Nullable<std::string>(std::string(environmentColumn(*c.environment))) : Nullable<std::string>();
    Nullable<std::string> tokenCiphertext =
        c.refreshToken ? Nullable<std::string>(c.refreshToken->ciphertext) : Nullable<std::string>();
    Nullable<std::string> tokenKey =
        c.refreshToken ? Nullable<std::string>(c.refreshToken->keyId) : Nullable<std::string>();
    if (exists) {
        session << "UPDATE connections SET login_enabled = ?, auth_method = ?, status = ?, environment = ?, "
                   "sa_user_id = ?, sa_username = ?, sf_org_id = ?, instance_url = ?, refresh_token_ct = ?, "
                   "refresh_token_key = ?, status_changed_at = ?, connected_at = ?, last_error = ?, "
                   "last_refresh_at = ?, changed_by_admin_at = ?, written_by = ?, version = ? WHERE org_id = ?",
            bind(Int64{c.serviceAccountLoginEnabled ? 1 : 0}), bind(c.authorizationMethod),
            bind(std::string(statusColumn(c.status))), bind(environment), bind(toNullable(c.serviceAccountUserId)),
            bind(toNullable(c.serviceAccountUsername)), bind(toNullable(c.salesforceOrgId)),
            bind(toNullable(c.instanceUrl)), bind(tokenCiphertext), bind(tokenKey), bind(toNullable(c.statusChangedAt)),
            bind(toNullable(c.connectedAt)), bind(toNullable(c.lastError)), bind(toNullable(c.lastRefreshAt)),
            bind(toNullable(c.changedByAdminAt)), bind(std::string(writtenBy)), bind(Int64{c.version}),
            bind(Int64{c.orgId}), now;
        return;
    }
    session << "INSERT INTO connections (" + std::string(kConnectionColumns) +
                   ", written_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        bind(Int64{c.orgId}), bind(Int64{c.serviceAccountLoginEnabled ? 1 : 0}), bind(c.authorizationMethod),
        bind(std::string(statusColumn(c.status))), bind(environment), bind(toNullable(c.serviceAccountUserId)),
        bind(toNullable(c.serviceAccountUsername)), bind(toNullable(c.salesforceOrgId)), bind(toNullable(c.instanceUrl)),
        bind(tokenCiphertext), bind(tokenKey), bind(toNullable(c.statusChangedAt)), bind(toNullable(c.connectedAt)),
        bind(toNullable(c.lastError)), bind(toNullable(c.lastRefreshAt)), bind(toNullable(c.changedByAdminAt)),
        bind(Int64{c.version}), bind(std::string(writtenBy)), now;
}

Connection SqlStore::loadConnection(std::int64_t orgId) {
    return withSession([&](Session& session) { return readConnection(session, orgId, false); });
}

bool SqlStore::applyTransition(const ConnectionTransition& transition) {
    // Writes the transition over a row at `currentVersion` (0: the row does not exist yet).
    auto write = [&](Session& session, std::int64_t currentVersion) {
        Connection next = transition.next;
        next.version = currentVersion + 1;
        writeConnection(session, next, currentVersion > 0, kWrittenByService);
        const Int64 orgId = next.orgId;
        switch (transition.users) {
            case UserEffect::None: break;
            case UserEffect::SuspendActiveUsers:
                session << "UPDATE users SET sync_suspended = 1, suspend_reason = ?, suspended_by_loss = 1 "
                           "WHERE org_id = ? AND active = 1 AND sync_suspended = 0",
                    bind(transition.suspendReason), bind(orgId), now;
                break;
            case UserEffect::LiftLossSuspensions:
                session << "UPDATE users SET sync_suspended = 0, suspend_reason = NULL, suspended_by_loss = 0 "
                           "WHERE org_id = ? AND suspended_by_loss = 1",
                    bind(orgId), now;
                break;
        }
        if (transition.forgetAccessToken) session << "DELETE FROM access_tokens WHERE org_id = ?", bind(orgId), now;
        insertEvents(session, transition.events);
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

void SqlStore::insertEvents(Session& session, const std::vector<Event>& events) {
    for (const auto& event : events) {
        Nullable<std::string> panel =
            event.panel ? Nullable<std::string>(std::string(panelColumn(*event.panel))) : Nullable<std::string>();
        session << "INSERT INTO events (org_id, at, type, panel, actor, detail) VALUES (?, ?, ?, ?, ?, ?)",
            bind(Int64{event.orgId}), bind(Int64{event.at}), bind(std::string(eventTypeName(event.type))), bind(panel),
            bind(toNullable(event.actor)), bind(toNullable(event.detail)), now;
    }
}

void SqlStore::appendEvent(const Event& event) {
    inTransaction([&](Session& session) { insertEvents(session, {event}); });
}

std::vector<Event> SqlStore::listEvents(std::int64_t orgId, std::int64_t beforeEventId, int limit) {
    return withSession([&](Session& session) {
        using EventRow = Poco::Tuple<Int64, Int64, Int64, std::string, Nullable<std::string>, Nullable<std::string>,
                                     Nullable<std::string>>;
        std::vector<EventRow> rows;
        session << "SELECT id, org_id, at, type, panel, actor, detail FROM events WHERE org_id = ? AND id < ? "
                   "ORDER BY id DESC LIMIT ?",
            bind(Int64{orgId}), bind(Int64{beforeEventId}), bind(Int64{limit}), into(rows), now;
        std::vector<Event> events;
        for (const auto& row : rows) {
            Event event;
            event.id = row.get<0>();
            event.orgId = row.get<1>();
            event.at = row.get<2>();
            event.type = parseEventType(row.get<3>()).value_or(EventType::Connected);
            if (!row.get<4>().isNull()) event.panel = panelFromColumn(row.get<4>().value());
            event.actor = toOptional(row.get<5>());
            event.detail = toOptional(row.get<6>());
            events.push_back(std::move(event));
        }
        return events;
    });
}

// --- OAuth attempts ---

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

// --- broker ---

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

void SqlStore::forgetAccessToken(std::int64_t orgId) {
    inTransaction([&](Session& session) { session << "DELETE FROM access_tokens WHERE org_id = ?", bind(Int64{orgId}), now; });
}

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

bool SqlStore::commitRefresh(const RefreshOutcome& outcome) {
    return inTransaction([&](Session& session) {
        std::vector<std::string> owners;
        session << "SELECT owner FROM refresh_leases WHERE org_id = ?" + std::string(lockRows()),
            bind(Int64{outcome.orgId}), into(owners), now;
        if (owners.empty() || owners.front() != outcome.leaseOwner) return false;
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
        insertEvents(session, outcome.events);
        return true;
    });
}

std::vector<std::int64_t> SqlStore::listIdleConnections(UnixSeconds lastRefreshBefore, int limit) {
    return withSession([&](Session& session) {
        std::vector<Int64> ids;
        session << "SELECT org_id FROM connections WHERE status = ? AND refresh_token_ct IS NOT NULL AND "
                   "(last_refresh_at IS NULL OR last_refresh_at < ?) ORDER BY org_id LIMIT ?",
            bind(std::string(statusColumn(ConnectionStatus::Connected))), bind(Int64{lastRefreshBefore}),
            bind(Int64{limit}), into(ids), now;
        return std::vector<std::int64_t>(ids.begin(), ids.end());
    });
}

// --- migrator ---

MigrationWrite SqlStore::writeMigratedOrganization(const MigratedOrganization& migrated) {
    return inTransaction([&](Session& session) { return writeMigrated(session, migrated); });
}

std::vector<MigrationWrite> SqlStore::writeMigratedOrganizations(const std::vector<MigratedOrganization>& batch) {
    return inTransaction([&](Session& session) {
        std::vector<MigrationWrite> outcomes;
        outcomes.reserve(batch.size());
        for (const auto& migrated : batch) outcomes.push_back(writeMigrated(session, migrated));
        return outcomes;
    });
}

MigrationWrite SqlStore::writeMigrated(Session& session, const MigratedOrganization& migrated) {
    {
        const Int64 orgId = migrated.organization.legacyId;
        using OriginRow = Poco::Tuple<std::string, Nullable<std::string>>;
        std::vector<OriginRow> existing;
        session << "SELECT origin, legacy_fingerprint FROM organizations WHERE id = ?" + std::string(lockRows()),
            bind(orgId), into(existing), now;
        if (!existing.empty()) {
            if (existing.front().get<0>() != kOriginMigration) return MigrationWrite::Conflict;
            const auto& fingerprint = existing.front().get<1>();
            if (!fingerprint.isNull() && fingerprint.value() == migrated.legacyFingerprint) {
                return MigrationWrite::AlreadyCurrent;
            }
        }
        if (!migrated.users.empty()) {
            // One query for all the organization's user ids (integers, so they are written into the SQL as is).
            std::string ids;
            for (const auto& user : migrated.users) ids += (ids.empty() ? "" : ",") + std::to_string(user.legacyId);
            Int64 held = 0;
            session << "SELECT COUNT(*) FROM users WHERE id IN (" + ids + ") AND (origin <> ? OR org_id <> ?)",
                bind(std::string(kOriginMigration)), bind(orgId), into(held), now;
            if (held > 0) return MigrationWrite::Conflict;
        }

        const auto& organization = migrated.organization;
        if (existing.empty()) {
            session << "INSERT INTO organizations (id, public_id, name, origin, legacy_fingerprint, created_at) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                bind(orgId), bind(organization.publicId), bind(organization.name),
                bind(std::string(kOriginMigration)), bind(migrated.legacyFingerprint), bind(Int64{nowSeconds()}), now;
        } else {
            session << "UPDATE organizations SET name = ?, legacy_fingerprint = ? WHERE id = ?",
                bind(organization.name), bind(migrated.legacyFingerprint), bind(orgId), now;
        }

        // The users of a rerun replace the ones an earlier run wrote; users created through the new panel stay.
        session << "DELETE FROM users WHERE org_id = ? AND origin = ?", bind(orgId),
            bind(std::string(kOriginMigration)), now;
        if (!migrated.users.empty()) {
            std::vector<Int64> ids, orgIds, active, suspended, byLoss;
            std::vector<std::string> publicIds, emails, emailKeys, origins;
            std::vector<Nullable<std::string>> names, salesforceIds, reasons;
            for (const auto& user : migrated.users) {
                ids.push_back(user.legacyId);
                publicIds.push_back(user.publicId);
                orgIds.push_back(orgId);
                emails.push_back(user.email);
                emailKeys.push_back(mappings::normalizeEmail(user.email));
                names.push_back(toNullable(user.displayName));
                salesforceIds.push_back(toNullable(user.salesforceUserId));
                active.push_back(user.active ? 1 : 0);
                suspended.push_back(user.syncSuspended ? 1 : 0);
                reasons.push_back(toNullable(user.suspendReason));
                byLoss.push_back(user.suspendedByLoss ? 1 : 0);
                origins.emplace_back(kOriginMigration);
            }
            session << "INSERT INTO users (id, public_id, org_id, email, email_key, display_name, sf_user_id, active, "
                       "sync_suspended, suspend_reason, suspended_by_loss, origin) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                use(ids), use(publicIds), use(orgIds), use(emails), use(emailKeys), use(names), use(salesforceIds),
                use(active), use(suspended), use(reasons), use(byLoss), use(origins), now;
        }

        if (migrated.connection) {
            using WriterRow = Poco::Tuple<std::string, Int64>;
            std::vector<WriterRow> writers;
            session << "SELECT written_by, version FROM connections WHERE org_id = ?" + std::string(lockRows()),
                bind(orgId), into(writers), now;
            // A row the server wrote (a panel, a login, the broker) is newer than the legacy one: leave it.
            if (writers.empty() || writers.front().get<0>() == kWrittenByMigration) {
                Connection connection = *migrated.connection;
                connection.orgId = orgId;
                // Bumped like by every write, so that a panel holding the version it read notices the rerun.
                connection.version = writers.empty() ? 1 : writers.front().get<1>() + 1;
                writeConnection(session, connection, !writers.empty(), kWrittenByMigration);
                session << "DELETE FROM access_tokens WHERE org_id = ?", bind(orgId), now;
                insertEvents(session, migrated.events);
            }
        }
        return MigrationWrite::Written;
    }
}

}  // namespace bridge
