#include "bridge/store/SqlStore.h"

#include <Poco/Data/Statement.h>
#include <Poco/Nullable.h>
#include <Poco/Tuple.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <thread>
#include <tuple>
#include <type_traits>
#include <unordered_map>

#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"
#include "bridge/store/PublicIds.h"
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

using UserRow = Poco::Tuple<Int64, Int64, std::string, Nullable<std::string>, Nullable<std::string>, Int64, Int64,
                            Nullable<std::string>, Int64>;
constexpr std::string_view kUserColumns =
    "id, org_id, email, display_name, sf_user_id, active, sync_suspended, suspend_reason, "
    "suspended_by_loss";

User userFromRow(const UserRow& row) {
    User user;
    user.legacyId = row.get<0>();
    user.orgId = row.get<1>();
    user.email = row.get<2>();
    user.displayName = toOptional(row.get<3>());
    user.salesforceUserId = toOptional(row.get<4>());
    user.active = row.get<5>() != 0;
    user.syncSuspended = row.get<6>() != 0;
    user.suspendReason = toOptional(row.get<7>());
    user.suspendedByLoss = row.get<8>() != 0;
    return user;
}

using OrganizationRow = Poco::Tuple<Int64, std::string>;

Organization organizationFromRow(const OrganizationRow& row) { return {row.get<0>(), row.get<1>()}; }

// A write that a unique key refused. An id allocation that lost a race catches it and tries again; any other
// caller sees the store's failure like every other database error.
class DuplicateKey : public Error {
public:
    DuplicateKey() : Error(ErrorCode::StoreUnavailable, "The store is unavailable; try again shortly.") {}
};

// Rows per statement where each statement is a round trip to a database server; within both databases' limits on
// bound values (MySQL 65535, SQLite 32766) for the widest table.
constexpr std::size_t kRowsPerServerInsert = 500;

void addValue(RowWriter& writer, Int64 value) { writer.add(std::int64_t{value}); }
void addValue(RowWriter& writer, const std::string& value) { writer.add(std::string_view(value)); }
void addValue(RowWriter& writer, std::string_view value) { writer.add(value); }
void addValue(RowWriter& writer, const std::optional<std::string>& value) {
    if (value) {
        writer.add(std::string_view(*value));
    } else {
        writer.addNull();
    }
}
template <typename T>
void addValue(RowWriter& writer, const Nullable<T>& value) {
    if (value.isNull()) {
        writer.addNull();
    } else {
        addValue(writer, value.value());
    }
}

// Inserts rows given column by column, every column as long as the first. Through the backend's RowWriter where it
// has one; otherwise in "VALUES (...), (...)" statements of kRowsPerServerInsert rows, one round trip each: the
// statement is prepared once and each chunk's values are swapped into the rows it reads, so that a server parses
// it once, not once per chunk (a shorter last chunk gets a statement of its own; the columns' values are moved out).
template <typename... Columns>
void insertRows(Session& session, const OpenRowWriter& openRowWriter, std::string_view table,
                std::string_view columnNames, Columns&... columns) {
    const std::size_t rows = std::get<0>(std::tie(columns...)).size();
    if (rows == 0) return;
    if (auto writer = openRowWriter(table, columnNames, sizeof...(Columns))) {
        for (std::size_t row = 0; row < rows; ++row) {
            (addValue(*writer, columns[row]), ...);
            writer->endRow();
        }
        writer->finish();
        return;
    }
    std::string rowPlaceholders = "(?";
    for (std::size_t column = 1; column < sizeof...(Columns); ++column) rowPlaceholders += ", ?";
    rowPlaceholders += ")";
    const std::string insertInto = "INSERT INTO " + std::string(table) + " (" + std::string(columnNames) + ") VALUES ";
    std::tuple<Columns...> chunk;
    std::optional<Poco::Data::Statement> insert;
    std::size_t preparedRows = 0;
    for (std::size_t first = 0; first < rows; first += kRowsPerServerInsert) {
        const std::size_t count = std::min(kRowsPerServerInsert, rows - first);
        if (count != preparedRows) {
            std::apply([&](auto&... chunkColumns) { (chunkColumns.resize(count), ...); }, chunk);
            std::string sql = insertInto + rowPlaceholders;
            for (std::size_t row = 1; row < count; ++row) sql += ", " + rowPlaceholders;
            insert.emplace(session);
            *insert << sql;
            for (std::size_t row = 0; row < count; ++row) {
                std::apply([&](auto&... chunkColumns) { (insert->addBind(useRef(chunkColumns[row])), ...); }, chunk);
            }
            preparedRows = count;
        }
        std::apply(
            [&](auto&... chunkColumns) {
                (std::swap_ranges(chunkColumns.begin(), chunkColumns.end(), columns.begin() + first), ...);
            },
            chunk);
        insert->execute();
    }
}

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
auto SqlStore::withSession(Work&& work, SessionUse use) {
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
        lease.session.emplace(use == SessionUse::BulkWrite ? openBulkSession() : openSession());
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
auto SqlStore::inTransaction(Work&& work, SessionUse use) {
    std::unique_lock<std::mutex> serialized;
    if (std::mutex* writers = writeSerializer()) serialized = std::unique_lock(*writers);
    return withSession(
        [&](Session& session) {
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
        },
        use);
}

std::unique_ptr<RowWriter> SqlStore::openRowWriter(Session&, std::string_view, std::string_view, std::size_t) {
    return nullptr;
}

OpenRowWriter SqlStore::rowWriterOpener(Session& session) {
    return [this, &session](std::string_view table, std::string_view columnNames, std::size_t columnCount) {
        return openRowWriter(session, table, columnNames, columnCount);
    };
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
                session << "SELECT id, name FROM organizations WHERE id = ?", bind(Int64{id}), into(rows), now;
                for (const auto& row : rows) organizations.push_back(organizationFromRow(row));
            }
            return organizations;
        }
        std::vector<OrganizationRow> rows;
        session << "SELECT id, name FROM organizations WHERE id > ? ORDER BY id LIMIT ?", bind(Int64{afterLegacyId}),
            bind(Int64{limit}), into(rows), now;
        for (const auto& row : rows) organizations.push_back(organizationFromRow(row));
        return organizations;
    });
}

std::optional<Organization> SqlStore::findOrganization(std::int64_t legacyId) {
    return withSession([&](Session& session) -> std::optional<Organization> {
        std::vector<OrganizationRow> rows;
        session << "SELECT id, name FROM organizations WHERE id = ?", bind(Int64{legacyId}), into(rows), now;
        if (rows.empty()) return std::nullopt;
        return organizationFromRow(rows.front());
    });
}

std::optional<Organization> SqlStore::findOrganizationByPublicId(const std::string& publicId) {
    const auto legacyId = legacyOrgIdOf(publicId);
    if (!legacyId) return std::nullopt;
    return findOrganization(*legacyId);
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
                organization.name = name;
                session << "INSERT INTO organizations (id, name, origin, created_at) VALUES (?, ?, ?, ?)",
                    bind(Int64{organization.legacyId}), bind(name), bind(std::string(kOriginPanel)),
                    bind(Int64{nowSeconds()}), now;
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
        session << "SELECT " + std::string(kUserColumns) + " FROM users WHERE org_id = ? ORDER BY id LIMIT ? OFFSET ?",
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
        session << "SELECT " + std::string(kUserColumns) +
                       " FROM users WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?",
            bind(Int64{orgId}), bind(Int64{afterLegacyId}), bind(Int64{limit}), into(rows), now;
        std::vector<User> users;
        users.reserve(rows.size());
        for (const auto& row : rows) users.push_back(userFromRow(row));
        return users;
    });
}

std::optional<User> SqlStore::readUser(Session& session, std::int64_t legacyId) {
    std::vector<UserRow> rows;
    session << "SELECT " + std::string(kUserColumns) + " FROM users WHERE id = ?", bind(Int64{legacyId}), into(rows),
        now;
    if (rows.empty()) return std::nullopt;
    return userFromRow(rows.front());
}

std::optional<User> SqlStore::findUser(std::int64_t legacyId) {
    return withSession([&](Session& session) { return readUser(session, legacyId); });
}

std::optional<User> SqlStore::findUserByPublicId(const std::string& publicId) {
    const auto legacyId = legacyUserIdOf(publicId);
    if (!legacyId) return std::nullopt;
    return findUser(*legacyId);
}

User SqlStore::createUser(const NewUser& newUser, std::int64_t firstNewLegacyId) {
    const std::string emailKey = mappings::normalizeEmail(newUser.email);
    for (int attempt = 0; attempt < kIdAllocationAttempts; ++attempt) {
        try {
            return inTransaction([&](Session& session) {
                Int64 taken = 0;
                session << "SELECT COUNT(*) FROM users WHERE org_id = ? AND email_key = ?", bind(Int64{newUser.orgId}),
                    bind(emailKey), into(taken), now;
                if (taken > 0)
                    throw Error(ErrorCode::EmailTaken, "The organization already has a user with this email.");
                Nullable<Int64> highest;
                session << "SELECT MAX(id) FROM users WHERE id >= ?", bind(Int64{firstNewLegacyId}), into(highest), now;
                User user;
                user.legacyId = highest.isNull() ? firstNewLegacyId : highest.value() + 1;
                user.orgId = newUser.orgId;
                user.email = newUser.email;
                user.displayName = newUser.displayName;
                user.salesforceUserId = newUser.salesforceUserId;
                user.active = newUser.active;
                session << "INSERT INTO users (id, org_id, email, email_key, display_name, sf_user_id, active, "
                           "sync_suspended, suspend_reason, suspended_by_loss, origin) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, 0, ?)",
                    bind(Int64{user.legacyId}), bind(Int64{user.orgId}), bind(user.email), bind(emailKey),
                    bind(toNullable(user.displayName)), bind(toNullable(user.salesforceUserId)),
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
        auto user = readUser(session, legacyId);
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

using ConnectionRow = Poco::Tuple<Int64, Int64, std::string, std::string, Nullable<std::string>, Nullable<std::string>,
                                  Nullable<std::string>, Nullable<std::string>, Nullable<std::string>,
                                  Nullable<std::string>, Nullable<std::string>, Nullable<Int64>, Nullable<Int64>,
                                  Nullable<std::string>, Nullable<Int64>, Nullable<Int64>, Int64>;

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

namespace {

// Connections as one vector per column: any number of rows goes to the database through one prepared statement.
struct ConnectionColumns {
    std::vector<Int64> orgIds, loginEnabled, versions;
    std::vector<std::string> authorizationMethods, statuses, writtenBy;
    std::vector<Nullable<std::string>> environments, serviceAccountUserIds, serviceAccountUsernames, salesforceOrgIds,
        instanceUrls, tokenCiphertexts, tokenKeys, lastErrors;
    std::vector<Nullable<Int64>> statusChangedAt, connectedAt, lastRefreshAt, changedByAdminAt;

    ConnectionColumns() = default;
    ConnectionColumns(const Connection& connection, std::string_view writer) { add(connection, writer); }

    void add(const Connection& c, std::string_view writer) { add(c, c.orgId, c.version, writer); }
    // The row of `c` under another organization id and version.
    void add(const Connection& c, Int64 orgId, Int64 version, std::string_view writer) {
        orgIds.push_back(orgId);
        loginEnabled.push_back(c.serviceAccountLoginEnabled ? 1 : 0);
        authorizationMethods.push_back(c.authorizationMethod);
        statuses.emplace_back(statusColumn(c.status));
        environments.push_back(c.environment ? Nullable<std::string>(std::string(environmentColumn(*c.environment)))
                                             : Nullable<std::string>());
        serviceAccountUserIds.push_back(toNullable(c.serviceAccountUserId));
        serviceAccountUsernames.push_back(toNullable(c.serviceAccountUsername));
        salesforceOrgIds.push_back(toNullable(c.salesforceOrgId));
        instanceUrls.push_back(toNullable(c.instanceUrl));
        tokenCiphertexts.push_back(c.refreshToken ? Nullable<std::string>(c.refreshToken->ciphertext)
                                                  : Nullable<std::string>());
        tokenKeys.push_back(c.refreshToken ? Nullable<std::string>(c.refreshToken->keyId) : Nullable<std::string>());
        statusChangedAt.push_back(toNullable(c.statusChangedAt));
        connectedAt.push_back(toNullable(c.connectedAt));
        lastErrors.push_back(toNullable(c.lastError));
        lastRefreshAt.push_back(toNullable(c.lastRefreshAt));
        changedByAdminAt.push_back(toNullable(c.changedByAdminAt));
        writtenBy.emplace_back(writer);
        versions.push_back(version);
    }
    bool empty() const { return orgIds.empty(); }
};

void insertConnections(Session& session, ConnectionColumns& rows, const OpenRowWriter& openRowWriter) {
    insertRows(session, openRowWriter, "connections", std::string(kConnectionColumns) + ", written_by", rows.orgIds,
               rows.loginEnabled, rows.authorizationMethods, rows.statuses, rows.environments,
               rows.serviceAccountUserIds, rows.serviceAccountUsernames, rows.salesforceOrgIds, rows.instanceUrls,
               rows.tokenCiphertexts, rows.tokenKeys, rows.statusChangedAt, rows.connectedAt, rows.lastErrors,
               rows.lastRefreshAt, rows.changedByAdminAt, rows.versions, rows.writtenBy);
}

void updateConnections(Session& session, ConnectionColumns& rows) {
    if (rows.empty()) return;
    session << "UPDATE connections SET login_enabled = ?, auth_method = ?, status = ?, environment = ?, "
               "sa_user_id = ?, sa_username = ?, sf_org_id = ?, instance_url = ?, refresh_token_ct = ?, "
               "refresh_token_key = ?, status_changed_at = ?, connected_at = ?, last_error = ?, "
               "last_refresh_at = ?, changed_by_admin_at = ?, written_by = ?, version = ? WHERE org_id = ?",
        use(rows.loginEnabled), use(rows.authorizationMethods), use(rows.statuses), use(rows.environments),
        use(rows.serviceAccountUserIds), use(rows.serviceAccountUsernames), use(rows.salesforceOrgIds),
        use(rows.instanceUrls), use(rows.tokenCiphertexts), use(rows.tokenKeys), use(rows.statusChangedAt),
        use(rows.connectedAt), use(rows.lastErrors), use(rows.lastRefreshAt), use(rows.changedByAdminAt),
        use(rows.writtenBy), use(rows.versions), use(rows.orgIds), now;
}

void writeConnection(Session& session, const Connection& connection, bool exists, std::string_view writtenBy,
                     const OpenRowWriter& openRowWriter) {
    ConnectionColumns row(connection, writtenBy);
    if (exists) {
        updateConnections(session, row);
    } else {
        insertConnections(session, row, openRowWriter);
    }
}

// Events as one vector per column, like ConnectionColumns.
struct EventColumns {
    std::vector<Int64> orgIds, times;
    std::vector<std::string> types;
    std::vector<Nullable<std::string>> panels, actors, details;

    EventColumns() = default;
    explicit EventColumns(const std::vector<Event>& events) {
        for (const auto& event : events) add(event);
    }
    void add(const Event& event) {
        orgIds.push_back(event.orgId);
        times.push_back(event.at);
        types.emplace_back(eventTypeName(event.type));
        panels.push_back(event.panel ? Nullable<std::string>(std::string(panelColumn(*event.panel)))
                                     : Nullable<std::string>());
        actors.push_back(toNullable(event.actor));
        details.push_back(toNullable(event.detail));
    }
};

void insertEvents(Session& session, EventColumns&& rows, const OpenRowWriter& openRowWriter) {
    insertRows(session, openRowWriter, "events", "org_id, at, type, panel, actor, detail", rows.orgIds, rows.times,
               rows.types, rows.panels, rows.actors, rows.details);
}

}  // namespace

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
        insertEvents(session, EventColumns(transition.events), rowWriterOpener(session));
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

void SqlStore::appendEvent(const Event& event) {
    inTransaction([&](Session& session) { insertEvents(session, EventColumns({event}), rowWriterOpener(session)); });
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
    inTransaction(
        [&](Session& session) { session << "DELETE FROM access_tokens WHERE org_id = ?", bind(Int64{orgId}), now; });
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
        insertEvents(session, EventColumns(outcome.events), rowWriterOpener(session));
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

namespace {

// Integers written into the SQL as they are, for an IN list: one query for a whole batch instead of one per row.
std::string idList(const std::vector<Int64>& ids) {
    std::string list;
    for (const auto id : ids) {
        if (!list.empty()) list += ',';
        list += std::to_string(id);
    }
    return list;
}

// What the server decided about a user's suspension, kept over a rerun where it owns the connection.
struct KeptSuspension {
    bool suspended = false;
    std::optional<std::string> reason;
    bool byLoss = false;
};

constexpr std::string_view kMigratedUserColumns =
    "id, org_id, email, email_key, display_name, sf_user_id, active, sync_suspended, suspend_reason, "
    "suspended_by_loss, origin";
constexpr std::size_t kMigratedUserColumnCount = 11;

// The users rows of the organizations a batch writes, one call of `row` each with the values of
// kMigratedUserColumns, in order; the texts stay valid as long as the batch and `kept` do.
template <typename Row>
void forEachMigratedUserRow(std::span<const MigratedOrganization> batch, const std::vector<MigrationWrite>& outcomes,
                            const std::unordered_map<Int64, KeptSuspension>& kept, std::vector<std::string>& emailKeys,
                            Row&& row) {
    std::size_t keysToWorkOut = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (outcomes[i] == MigrationWrite::Written && batch[i].userEmailKeys.size() != batch[i].users.size()) {
            keysToWorkOut += batch[i].users.size();
        }
    }
    emailKeys.clear();
    emailKeys.reserve(keysToWorkOut);  // no reallocation: the rows' email keys are views of these strings
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (outcomes[i] != MigrationWrite::Written) continue;
        const MigratedOrganization& migrated = batch[i];
        const Int64 orgId = migrated.organization.legacyId;
        const bool keysGiven = migrated.userEmailKeys.size() == migrated.users.size();
        for (std::size_t j = 0; j < migrated.users.size(); ++j) {
            const User& user = migrated.users[j];
            if (!keysGiven) emailKeys.push_back(mappings::normalizeEmail(user.email));
            const std::string_view emailKey = keysGiven ? migrated.userEmailKeys[j] : emailKeys.back();
            const auto found = kept.find(user.legacyId);
            const bool useKept = found != kept.end();
            row(Int64{user.legacyId}, orgId, std::string_view(user.email), emailKey, user.displayName,
                user.salesforceUserId, Int64{user.active ? 1 : 0},
                Int64{(useKept ? found->second.suspended : user.syncSuspended) ? 1 : 0},
                useKept ? found->second.reason : user.suspendReason,
                Int64{(useKept ? found->second.byLoss : user.suspendedByLoss) ? 1 : 0}, kOriginMigration);
        }
    }
}

// The users of the organizations a batch writes. Through the backend's RowWriter straight from the batch, where
// it has one (a million users copied into columns first took a fifth of the SQLite migration's time); otherwise
// column by column through insertRows.
void insertMigratedUsers(Session& session, const OpenRowWriter& openRowWriter,
                         std::span<const MigratedOrganization> batch, const std::vector<MigrationWrite>& outcomes,
                         const std::unordered_map<Int64, KeptSuspension>& kept) {
    std::vector<std::string> emailKeys;
    if (auto writer = openRowWriter("users", kMigratedUserColumns, kMigratedUserColumnCount)) {
        forEachMigratedUserRow(batch, outcomes, kept, emailKeys, [&](const auto&... values) {
            (addValue(*writer, values), ...);
            writer->endRow();
        });
        writer->finish();
        return;
    }
    std::vector<Int64> ids, orgIds, active, suspended, suspendedByLoss;
    std::vector<std::string> emails, keys, origins;
    std::vector<Nullable<std::string>> displayNames, salesforceUserIds, suspendReasons;
    forEachMigratedUserRow(batch, outcomes, kept, emailKeys,
                           [&](Int64 id, Int64 orgId, std::string_view email, std::string_view emailKey,
                               const std::optional<std::string>& displayName,
                               const std::optional<std::string>& salesforceUserId, Int64 isActive, Int64 isSuspended,
                               const std::optional<std::string>& suspendReason, Int64 byLoss, std::string_view origin) {
                               ids.push_back(id);
                               orgIds.push_back(orgId);
                               emails.emplace_back(email);
                               keys.emplace_back(emailKey);
                               displayNames.push_back(toNullable(displayName));
                               salesforceUserIds.push_back(toNullable(salesforceUserId));
                               active.push_back(isActive);
                               suspended.push_back(isSuspended);
                               suspendReasons.push_back(toNullable(suspendReason));
                               suspendedByLoss.push_back(byLoss);
                               origins.emplace_back(origin);
                           });
    insertRows(session, openRowWriter, "users", kMigratedUserColumns, ids, orgIds, emails, keys, displayNames,
               salesforceUserIds, active, suspended, suspendReasons, suspendedByLoss, origins);
}

std::unordered_map<Int64, KeptSuspension> serverSuspensions(Session& session, const std::vector<Int64>& orgIds) {
    using Suspension = Poco::Tuple<Int64, Int64, Nullable<std::string>, Int64>;
    std::vector<Suspension> stored;
    session << "SELECT id, sync_suspended, suspend_reason, suspended_by_loss FROM users WHERE org_id IN (" +
                   idList(orgIds) + ")",
        into(stored), now;
    std::unordered_map<Int64, KeptSuspension> kept;
    for (const auto& suspension : stored) {
        kept[suspension.get<0>()] = {suspension.get<1>() != 0, toOptional(suspension.get<2>()),
                                     suspension.get<3>() != 0};
    }
    return kept;
}

// A user id held by something else than the migrator or by another organization, or an email held in the
// organization by a user created through the new panel, is a conflict: the organization is not written. A user id
// that the migrator wrote into another organization of this batch is free if that organization is rewritten (its
// migrated users are replaced first): the user moved between them in the legacy database.
void markUserConflicts(Session& session, std::span<const MigratedOrganization> batch, const std::vector<Int64>& orgIds,
                       std::vector<MigrationWrite>& outcomes) {
    std::unordered_map<Int64, std::size_t> positionOfOrganization;
    for (std::size_t i = 0; i < batch.size(); ++i) positionOfOrganization[orgIds[i]] = i;
    std::unordered_map<Int64, std::size_t> positionOfUser;
    std::vector<Int64> userIds, candidateOrgIds;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (outcomes[i] != MigrationWrite::Written) continue;
        candidateOrgIds.push_back(orgIds[i]);
        for (const auto& user : batch[i].users) {
            userIds.push_back(user.legacyId);
            positionOfUser[user.legacyId] = i;
        }
    }
    if (userIds.empty()) return;
    using HeldUser = Poco::Tuple<Int64, Int64, std::string>;
    std::vector<HeldUser> heldUsers;
    session << "SELECT id, org_id, origin FROM users WHERE id IN (" + idList(userIds) + ")", into(heldUsers), now;
    // (organization, organization of this batch that must be rewritten for it to be written)
    std::vector<std::pair<std::size_t, std::size_t>> needsRewriteOf;
    for (const auto& held : heldUsers) {
        const std::size_t i = positionOfUser.at(held.get<0>());
        if (held.get<1>() == orgIds[i] && held.get<2>() == kOriginMigration) continue;
        const auto holder = positionOfOrganization.find(held.get<1>());
        if (held.get<2>() == kOriginMigration && holder != positionOfOrganization.end()) {
            needsRewriteOf.emplace_back(i, holder->second);
        } else {
            outcomes[i] = MigrationWrite::Conflict;
        }
    }

    using HeldEmail = Poco::Tuple<Int64, std::string>;
    std::vector<HeldEmail> panelEmails;
    session << "SELECT org_id, email_key FROM users WHERE origin <> ? AND org_id IN (" + idList(candidateOrgIds) + ")",
        bind(std::string(kOriginMigration)), into(panelEmails), now;
    for (const auto& held : panelEmails) {
        const std::size_t i = positionOfOrganization.at(held.get<0>());
        for (const auto& user : batch[i].users) {
            if (mappings::normalizeEmail(user.email) == held.get<1>()) outcomes[i] = MigrationWrite::Conflict;
        }
    }

    // An organization not rewritten keeps its users, so one waiting for it is a conflict too (and so on).
    for (bool changed = true; changed;) {
        changed = false;
        for (const auto& [waiting, holder] : needsRewriteOf) {
            if (outcomes[waiting] == MigrationWrite::Written && outcomes[holder] != MigrationWrite::Written) {
                outcomes[waiting] = MigrationWrite::Conflict;
                changed = true;
            }
        }
    }
}

}  // namespace

namespace {

// A unique key refused a migrated row although the store was asked who holds its ids and emails first: an email
// that the database compares as equal to another and the migrator does not (trailing spaces on MariaDB), or a
// panel write in between on another connection. The organization fails alone, not as an outage of the store.
Error refusedAfterAsking() {
    return Error(ErrorCode::Internal, "the store refused one of its users as a duplicate of a row it holds");
}

}  // namespace

MigrationWrite SqlStore::writeMigratedOrganization(const MigratedOrganization& migrated) {
    try {
        return inTransaction(
            [&](Session& session) { return writeMigrated(session, std::span(&migrated, 1), UserCheck::Ask).front(); });
    } catch (const DuplicateKey&) {
        throw refusedAfterAsking();
    }
}

std::vector<MigrationWrite> SqlStore::writeMigratedOrganizations(const std::vector<MigratedOrganization>& batch) {
    // A user id or email held by data the migrator did not write is rare, and asking about every user of a batch
    // costs more than inserting them: the first attempt lets the unique keys say no, which rolls it back.
    const auto write = [&](UserCheck userCheck) {
        return inTransaction([&](Session& session) { return writeMigrated(session, batch, userCheck); },
                             SessionUse::BulkWrite);
    };
    try {
        return write(UserCheck::TrustKeys);
    } catch (const DuplicateKey&) {
        // A key said no: the batch is written again, asking first this time.
    }
    try {
        return write(UserCheck::Ask);
    } catch (const DuplicateKey&) {
        throw refusedAfterAsking();
    }
}

std::vector<MigrationWrite> SqlStore::writeMigrated(Session& session, std::span<const MigratedOrganization> batch,
                                                    UserCheck userCheck) {
    std::vector<MigrationWrite> outcomes(batch.size(), MigrationWrite::Written);
    if (batch.empty()) return outcomes;

    std::unordered_map<Int64, std::size_t> positionOfOrganization;
    std::vector<Int64> orgIds;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        orgIds.push_back(batch[i].organization.legacyId);
        positionOfOrganization[orgIds.back()] = i;
    }

    // Who holds the batch's organization ids, and from which legacy rows the migrator wrote them.
    using HeldOrganization = Poco::Tuple<Int64, std::string, Nullable<std::string>>;
    std::vector<HeldOrganization> heldOrganizations;
    session << "SELECT id, origin, legacy_fingerprint FROM organizations WHERE id IN (" + idList(orgIds) + ")" +
                   std::string(lockRows()),
        into(heldOrganizations), now;
    std::vector<bool> exists(batch.size(), false);
    for (const auto& held : heldOrganizations) {
        const std::size_t i = positionOfOrganization.at(held.get<0>());
        exists[i] = true;
        if (held.get<1>() != kOriginMigration) {
            outcomes[i] = MigrationWrite::Conflict;
        } else if (!held.get<2>().isNull() && held.get<2>().value() == batch[i].legacyFingerprint) {
            outcomes[i] = MigrationWrite::AlreadyCurrent;
        }
    }

    if (userCheck == UserCheck::Ask) markUserConflicts(session, batch, orgIds, outcomes);

    std::vector<Int64> newIds, newCreatedAt, changedIds, writtenIds, connectionOrgIds;
    std::vector<std::string> newNames, newFingerprints, changedNames, changedFingerprints;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (outcomes[i] != MigrationWrite::Written) continue;
        const auto& migrated = batch[i];
        writtenIds.push_back(orgIds[i]);
        if (exists[i]) {
            changedIds.push_back(orgIds[i]);
            changedNames.push_back(migrated.organization.name);
            changedFingerprints.push_back(migrated.legacyFingerprint);
        } else {
            newIds.push_back(orgIds[i]);
            newNames.push_back(migrated.organization.name);
            newFingerprints.push_back(migrated.legacyFingerprint);
            newCreatedAt.push_back(nowSeconds());
        }
        if (migrated.connection) connectionOrgIds.push_back(orgIds[i]);
    }
    if (writtenIds.empty()) return outcomes;

    std::vector<std::string> newOrigins(newIds.size(), std::string(kOriginMigration));
    insertRows(session, rowWriterOpener(session), "organizations", "id, name, origin, legacy_fingerprint, created_at",
               newIds, newNames, newOrigins, newFingerprints, newCreatedAt);
    if (!changedIds.empty()) {
        session << "UPDATE organizations SET name = ?, legacy_fingerprint = ? WHERE id = ?", use(changedNames),
            use(changedFingerprints), use(changedIds), now;
    }

    // A connection and migrated users hang off an organization row: trusting the keys, only the organizations the
    // store held already are asked about. Were such a row there all the same, its key refuses the insert below and
    // the batch is written again, asking about every organization.
    const std::vector<Int64>& mayHoldRows = userCheck == UserCheck::TrustKeys ? changedIds : writtenIds;

    // The connection rows first, in the order a state transition locks them (connection, then users), so that a
    // migration and a panel or broker write on one organization cannot deadlock.
    using Writer = Poco::Tuple<Int64, std::string, Int64>;
    std::vector<Writer> writers;
    if (!mayHoldRows.empty()) {
        session << "SELECT org_id, written_by, version FROM connections WHERE org_id IN (" + idList(mayHoldRows) + ")" +
                       std::string(lockRows()),
            into(writers), now;
    }
    std::unordered_map<Int64, const Writer*> writerOf;
    std::vector<Int64> serverOwned;
    for (const auto& writer : writers) {
        writerOf[writer.get<0>()] = &writer;
        if (writer.get<1>() != kWrittenByMigration) serverOwned.push_back(writer.get<0>());
    }
    // Where the server owns the connection (a login, a loss, a disconnect since the last run), it also decided the
    // users' suspensions: a rerun keeps them instead of restoring the legacy ones.
    const auto kept =
        serverOwned.empty() ? std::unordered_map<Int64, KeptSuspension>{} : serverSuspensions(session, serverOwned);

    // The users of a rerun replace the ones an earlier run wrote; users created through the new panel stay.
    if (!mayHoldRows.empty()) {
        session << "DELETE FROM users WHERE origin = ? AND org_id IN (" + idList(mayHoldRows) + ")",
            bind(std::string(kOriginMigration)), now;
    }
    insertMigratedUsers(session, rowWriterOpener(session), batch, outcomes, kept);

    if (connectionOrgIds.empty()) return outcomes;
    ConnectionColumns inserted, updated;
    EventColumns events;
    for (const auto orgId : connectionOrgIds) {
        const auto& migrated = batch[positionOfOrganization.at(orgId)];
        const auto found = writerOf.find(orgId);
        // A row the server wrote (a panel, a login, the broker) is newer than the legacy one: leave it.
        if (found != writerOf.end() && found->second->get<1>() != kWrittenByMigration) continue;
        // Bumped like by every write, so that a panel holding the version it read notices the rerun.
        if (found == writerOf.end()) {
            inserted.add(*migrated.connection, orgId, 1, kWrittenByMigration);
        } else {
            updated.add(*migrated.connection, orgId, found->second->get<2>() + 1, kWrittenByMigration);
        }
        for (const auto& event : migrated.events) events.add(event);
    }
    insertConnections(session, inserted, rowWriterOpener(session));
    updateConnections(session, updated);
    // The access token minted with a rewritten connection's old refresh token goes with it. An inserted connection
    // had no row before, and an access token is only ever stored beside one (commitRefresh updates the row first).
    if (!updated.empty()) {
        session << "DELETE FROM access_tokens WHERE org_id IN (" + idList(updated.orgIds) + ")", now;
    }
    insertEvents(session, std::move(events), rowWriterOpener(session));
    return outcomes;
}

}  // namespace bridge
