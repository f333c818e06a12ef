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

}  // namespace

std::string Organization::publicId() const { return profileIdFor(legacyId); }

std::string User::publicId() const { return userIdFor(legacyId); }

std::string_view eventTypeName(EventType type) {
    for (const auto& [each, name] : kEventTypeNames) {
        if (each == type) return name;
    }
    return "unknown";
}

std::optional<EventType> parseEventType(std::string_view name) {
    for (const auto& [type, each] : kEventTypeNames) {
        if (each == name) return type;
    }
    return std::nullopt;
}

}  // namespace bridge
