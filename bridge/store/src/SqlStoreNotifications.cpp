// SqlStore: the webhook's outbox (rows written by applyTransition) and the one delivery lease. The lease runs on
// the database's clock like the refresh leases; attempt times are the deliverer's, in milliseconds.
#include <Poco/Data/Statement.h>
#include <Poco/Tuple.h>

#include "NotificationRows.h"
#include "SqlStoreSessions.h"
#include "bridge/store/SqlStore.h"

using namespace Poco::Data::Keywords;

namespace bridge {

using namespace sql;  // the store's private helpers (src/*.h)

namespace {

// The single row of delivery_lease.
constexpr std::string_view kDelivererLease = "deliverer";

constexpr std::string_view kNotificationColumns =
    "id, event_id, org_id, type, environment, reason, occurred_at, user_count, created_at_ms, state, attempts, "
    "last_attempt_at_ms, next_attempt_at_ms, delivered_at_ms, last_error";

using NotificationRow =
    Poco::Tuple<Int64, std::string, Int64, std::string, Nullable<std::string>, Nullable<std::string>, Int64, Int64,
                Int64, std::string, Int64, Nullable<Int64>, Int64, Nullable<Int64>, Nullable<std::string>>;

Notification notificationFromRow(const NotificationRow& row) {
    Notification notification;
    notification.sequence = row.get<0>();
    notification.id = row.get<1>();
    notification.orgId = row.get<2>();
    notification.type = parseNotificationType(row.get<3>()).value_or(NotificationType::ConnectionLost);
    if (!row.get<4>().isNull()) notification.environment = environmentFromColumn(row.get<4>().value());
    notification.reason = toOptional(row.get<5>());
    notification.occurredAt = row.get<6>();
    notification.users = row.get<7>();
    notification.createdAtMs = row.get<8>();
    notification.state = parseDeliveryState(row.get<9>()).value_or(DeliveryState::Pending);
    notification.attempts = static_cast<int>(row.get<10>());
    notification.lastAttemptAtMs = toOptional(row.get<11>());
    notification.nextAttemptAtMs = row.get<12>();
    notification.deliveredAtMs = toOptional(row.get<13>());
    notification.lastError = toOptional(row.get<14>());
    return notification;
}

std::vector<Notification> notificationsFromRows(const std::vector<NotificationRow>& rows) {
    std::vector<Notification> notifications;
    notifications.reserve(rows.size());
    for (const auto& row : rows) notifications.push_back(notificationFromRow(row));
    return notifications;
}

const std::string& pendingState() {
    static const std::string pending(deliveryStateName(DeliveryState::Pending));
    return pending;
}

}  // namespace

namespace sql {

void insertNotification(Session& session, const Notification& notification, std::int64_t users) {
    Nullable<std::string> environment;
    if (notification.environment) environment = std::string(environmentColumn(*notification.environment));
    session << "INSERT INTO notifications (event_id, org_id, type, environment, reason, occurred_at, user_count, "
               "created_at_ms, state, attempts, next_attempt_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
        bind(notification.id), bind(Int64{notification.orgId}),
        bind(std::string(notificationTypeName(notification.type))), bind(environment),
        bind(toNullable(notification.reason)), bind(Int64{notification.occurredAt}), bind(Int64{users}),
        bind(Int64{notification.createdAtMs}), bind(pendingState()), bind(Int64{notification.createdAtMs}), now;
}

}  // namespace sql

std::vector<Notification> SqlStore::listDueNotifications(UnixMillis nowMs, int limit) {
    return withSession([&](Session& session) {
        std::vector<NotificationRow> rows;
        // The head of each organization's queue: a later notification waits even when it is due.
        session << "SELECT " + std::string(kNotificationColumns) +
                       " FROM notifications n WHERE n.state = ? AND n.next_attempt_at_ms <= ? AND n.id = "
                       "(SELECT MIN(p.id) FROM notifications p WHERE p.org_id = n.org_id AND p.state = ?) "
                       "ORDER BY n.id LIMIT ?",
            bind(pendingState()), bind(Int64{nowMs}), bind(pendingState()), bind(Int64{limit}), into(rows), now;
        return notificationsFromRows(rows);
    });
}

bool SqlStore::recordDeliveryAttempt(const DeliveryAttempt& attempt) {
    return inTransaction([&](Session& session) {
        std::vector<std::string> owners;
        session << "SELECT owner FROM delivery_lease WHERE name = ?" + std::string(lockRows()),
            bind(std::string(kDelivererLease)), into(owners), now;
        if (owners.empty() || owners.front() != attempt.leaseOwner) return false;
        Nullable<Int64> deliveredAt;
        if (attempt.outcome == DeliveryState::Delivered) deliveredAt = Int64{attempt.atMs};
        // A delivered row keeps the error of the attempt that failed before it: the history an operator reads.
        Poco::Data::Statement update(session);
        update << "UPDATE notifications SET attempts = attempts + 1, last_attempt_at_ms = ?, state = ?, "
                  "next_attempt_at_ms = ?, delivered_at_ms = ?, last_error = COALESCE(?, last_error) "
                  "WHERE id = ? AND state = ?",
            bind(Int64{attempt.atMs}), bind(std::string(deliveryStateName(attempt.outcome))),
            bind(Int64{attempt.nextAttemptAtMs}), bind(deliveredAt), bind(toNullable(attempt.error)),
            bind(Int64{attempt.sequence}), bind(pendingState());
        return update.execute() == 1;
    });
}

std::vector<Notification> SqlStore::listNotifications(std::int64_t orgId, std::int64_t beforeSequence, int limit) {
    return withSession([&](Session& session) {
        std::vector<NotificationRow> rows;
        session << "SELECT " + std::string(kNotificationColumns) +
                       " FROM notifications WHERE org_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
            bind(Int64{orgId}), bind(Int64{beforeSequence}), bind(Int64{limit}), into(rows), now;
        return notificationsFromRows(rows);
    });
}

bool SqlStore::tryAcquireDeliveryLease(const std::string& owner, std::chrono::milliseconds duration) {
    const std::string nowMs(databaseNowMs());
    const Int64 durationMs = duration.count();
    const std::string name(kDelivererLease);
    // True: taken (free, expired or already ours); false: held by another owner; nullopt: no lease row yet.
    const std::optional<bool> taken = inTransaction([&](Session& session) -> std::optional<bool> {
        Poco::Data::Statement take(session);
        take << "UPDATE delivery_lease SET owner = ?, expires_at_ms = " + nowMs +
                    " + ? WHERE name = ? AND "
                    "(expires_at_ms <= " +
                    nowMs + " OR owner = ?)",
            bind(owner), bind(durationMs), bind(name), bind(owner);
        if (take.execute() == 1) return true;
        Int64 existing = 0;
        session << "SELECT COUNT(*) FROM delivery_lease WHERE name = ?", bind(name), into(existing), now;
        if (existing > 0) {
            // MySQL counts an UPDATE that changes nothing as no row: the owner renewing within a millisecond.
            std::vector<std::string> owners;
            session << "SELECT owner FROM delivery_lease WHERE name = ?", bind(name), into(owners), now;
            return !owners.empty() && owners.front() == owner;
        }
        return std::nullopt;
    });
    if (taken) return *taken;
    // The first lease, inserted in a transaction of its own (see tryAcquireRefreshLease).
    try {
        inTransaction([&](Session& session) {
            session << "INSERT INTO delivery_lease (name, owner, expires_at_ms) VALUES (?, ?, " + nowMs + " + ?)",
                bind(name), bind(owner), bind(durationMs), now;
        });
        return true;
    } catch (const DuplicateKey&) {
        return false;  // another instance created the lease first
    }
}

bool SqlStore::renewDeliveryLease(const std::string& owner, std::chrono::milliseconds duration) {
    const std::string nowMs(databaseNowMs());
    const std::string name(kDelivererLease);
    return inTransaction([&](Session& session) {
        // Read first, then write: MySQL counts an UPDATE that changes nothing as no row.
        Int64 held = 0;
        session << "SELECT COUNT(*) FROM delivery_lease WHERE name = ? AND owner = ? AND expires_at_ms > " + nowMs +
                       std::string(lockRows()),
            bind(name), bind(owner), into(held), now;
        if (held == 0) return false;
        session << "UPDATE delivery_lease SET expires_at_ms = " + nowMs + " + ? WHERE name = ? AND owner = ?",
            bind(Int64{duration.count()}), bind(name), bind(owner), now;
        return true;
    });
}

void SqlStore::releaseDeliveryLease(const std::string& owner) {
    inTransaction([&](Session& session) {
        session << "UPDATE delivery_lease SET expires_at_ms = 0 WHERE name = ? AND owner = ?",
            bind(std::string(kDelivererLease)), bind(owner), now;
    });
}

}  // namespace bridge
