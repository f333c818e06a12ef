#include "bridge/store/Model.h"

#include <array>
#include <utility>

#include "bridge/store/PublicIds.h"

namespace bridge {

namespace {

constexpr std::array<std::pair<EventType, std::string_view>, 10> kEventTypeNames{{
    {EventType::LoginStarted, "login_started"},
    {EventType::Connected, "connected"},
    {EventType::LoginRefused, "login_refused"},
    {EventType::ToggleChanged, "toggle_changed"},
    {EventType::Lost, "lost"},
    {EventType::Disconnected, "disconnected"},
    {EventType::RefreshTokenRotated, "refresh_token_rotated"},
    {EventType::Migrated, "migrated"},
    {EventType::AccessTokenRefused, "access_token_refused"},
    {EventType::KeyMissing, "key_missing"},
}};

constexpr std::array<std::pair<NotificationType, std::string_view>, 2> kNotificationTypeNames{{
    {NotificationType::ConnectionLost, "connection_lost"},
    {NotificationType::ConnectionRecovered, "connection_recovered"},
}};

constexpr std::array<std::pair<DeliveryState, std::string_view>, 3> kDeliveryStateNames{{
    {DeliveryState::Pending, "pending"},
    {DeliveryState::Delivered, "delivered"},
    {DeliveryState::Abandoned, "abandoned"},
}};

template <typename Value, std::size_t Size>
std::string_view nameOf(const std::array<std::pair<Value, std::string_view>, Size>& names, Value value) {
    for (const auto& [each, name] : names) {
        if (each == value) return name;
    }
    return "unknown";
}

template <typename Value, std::size_t Size>
std::optional<Value> valueNamed(const std::array<std::pair<Value, std::string_view>, Size>& names,
                                std::string_view name) {
    for (const auto& [value, each] : names) {
        if (each == name) return value;
    }
    return std::nullopt;
}

}  // namespace

std::string Organization::publicId() const { return profileIdFor(legacyId); }

std::string User::publicId() const { return userIdFor(legacyId); }

std::string_view eventTypeName(EventType type) { return nameOf(kEventTypeNames, type); }

std::optional<EventType> parseEventType(std::string_view name) { return valueNamed(kEventTypeNames, name); }

std::string_view notificationTypeName(NotificationType type) { return nameOf(kNotificationTypeNames, type); }

std::optional<NotificationType> parseNotificationType(std::string_view name) {
    return valueNamed(kNotificationTypeNames, name);
}

std::string_view deliveryStateName(DeliveryState state) { return nameOf(kDeliveryStateNames, state); }

std::optional<DeliveryState> parseDeliveryState(std::string_view name) { return valueNamed(kDeliveryStateNames, name); }

}  // namespace bridge
