#include "mappings/UserNames.h"

namespace bridge::mappings {

std::optional<std::string_view> legacyHighlight(bool syncSuspended) {
    if (syncSuspended) return "red";
    return std::nullopt;
}

std::string_view synchronizationStatusName(bool syncSuspended) { return syncSuspended ? "Disabled" : "Enabled"; }

std::optional<bool> syncSuspendedFromSynchronizationStatusName(std::string_view name) {
    if (name == "Enabled") return false;
    if (name == "Disabled") return true;
    return std::nullopt;
}

std::optional<bool> syncSuspendedFromLegacyState(std::string_view state) {
    if (state == "ok") return false;
    if (state == "suspended") return true;
    return std::nullopt;
}

std::string_view legacySyncState(bool syncSuspended) { return syncSuspended ? "suspended" : "ok"; }

}  // namespace bridge::mappings
