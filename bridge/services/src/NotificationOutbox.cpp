#include "bridge/services/NotificationOutbox.h"

#include <chrono>

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
    const auto now = WallClock::now();
    notification.occurredAt =
        next.statusChangedAt.value_or(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
    notification.createdAtMs = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    return notification;
}

}  // namespace bridge
