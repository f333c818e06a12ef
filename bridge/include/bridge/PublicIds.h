#pragma once

#include <cstdint>
#include <string>

namespace bridge {

// The new panel's opaque ids. Derived from the legacy id (a plain hash: they are not secrets, scope checks
// guard access), so the pairing can never change and a rerun of the migrator produces the same ids.
std::string profileIdFor(std::int64_t legacyOrgId);
std::string userIdFor(std::int64_t legacyUserId);

}  // namespace bridge
