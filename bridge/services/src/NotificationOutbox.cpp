#include "bridge/services/NotificationOutbox.h"

#include "bridge/base/WallClock.h"
#include "bridge/crypto/Secrets.h"

namespace bridge {

std::optional<Notification> NotificationOutbox::lost(const Connection& next, const std::string& reason) const {
    return notification(NotificationType::ConnectionLost, next, reason);
}

std::optional<Notification> NotificationOutbox::recovered(const Connection& next) const {
    return notification(NotificationType::ConnectionRecovered, next, std::nullopt);
}

std::optional<Notification> NotificationOutbox::notification(NotificationType type, const Connection& next,
                                                             std::optional<std::string> reason) const {
    if (!enabled_) return std::nullopt;
    Notification notification;
    // 128 random bits: unique without coordination between instances; the receiver dedupes by it.
    notification.id = "evt_" + base64UrlEncode(randomBytes(16));
    notification.orgId = next.orgId;
    notification.type = type;
    notification.environment = next.environment;
    notification.reason = std::move(reason);
    notification.createdAtMs = WallClock::unixMillis();
    notification.occurredAt = next.statusChangedAt.value_or(notification.createdAtMs / 1000);
    return notification;
}

}  // namespace bridge
