// SqlStore: organizations and users.
#include <Poco/Nullable.h>
#include <Poco/Tuple.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "SqlStoreSessions.h"
#include "bridge/store/PublicIds.h"
#include "bridge/store/SqlStore.h"
#include "mappings/Emails.h"

using namespace Poco::Data::Keywords;

namespace bridge {

using namespace sql;  // the store's private helpers (src/*.h)

namespace {

constexpr int kIdAllocationAttempts = 32;

// Writers that took the same next id wait a random while before reading the highest id again, so that they stop
// colliding: without it, eight writers at once can starve one of them through every attempt.
void backOffBeforeAllocatingAgain(int attempt) {
    thread_local std::minstd_rand random{std::random_device{}()};
    std::uniform_int_distribution<int> delayMs(0, 1 << std::min(attempt, 5));
    std::this_thread::sleep_for(std::chrono::milliseconds(delayMs(random)));
}

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

}  // namespace

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

}  // namespace bridge
