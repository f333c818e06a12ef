#pragma once

#include <optional>
#include <string>

#include "bridge/store/Model.h"

namespace bridge {

// Builds the webhook's outbox row that a transition to Lost, or from Lost back to Connected, carries into its
// store transaction (ConnectionTransition::notification). Disabled (no notify.webhookUrl when the transition
// happens): no row, so an instance without a webhook never fills an outbox that nobody delivers.
class NotificationOutbox {
public:
    NotificationOutbox() = default;
    explicit NotificationOutbox(bool enabled) : enabled_(enabled) {}

    // `next` is the connection as the transition writes it (status, environment, statusChangedAt).
    std::optional<Notification> lost(const Connection& next, const std::string& reason) const;
    std::optional<Notification> recovered(const Connection& next) const;

private:
    std::optional<Notification> notification(NotificationType type, const Connection& next,
                                             std::optional<std::string> reason) const;

    bool enabled_ = false;
};

}  // namespace bridge
