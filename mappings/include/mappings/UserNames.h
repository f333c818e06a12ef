#pragma once

#include <optional>
#include <string_view>

// How each side spells a user's synchronization state.

namespace bridge::mappings {

// The legacy panel's highlight: "red" for a suspended user, null otherwise.
std::optional<std::string_view> legacyHighlight(bool syncSuspended);

// The new panel's synchronization.status: "Disabled" for a suspended user, "Enabled" otherwise.
std::string_view synchronizationStatusName(bool syncSuspended);
std::optional<bool> syncSuspendedFromSynchronizationStatusName(std::string_view name);

// The legacy database's org_users.sync_state: "ok", "suspended".
std::optional<bool> syncSuspendedFromLegacyState(std::string_view state);
std::string_view legacySyncState(bool syncSuspended);

}  // namespace bridge::mappings
