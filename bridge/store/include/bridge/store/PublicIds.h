#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bridge {

// The new panel's opaque ids ("prf_" / "usr_" + 32 hex characters): the legacy id and the kind of thing,
// encrypted as one AES block under a fixed key. They are an encoding, not a secret (scope checks guard every
// access), chosen so that
// - the pairing with the legacy id can never change and a rerun of the migrator produces the same ids;
// - the store keeps no column or index for them: an id is decoded to its legacy id, and a bulk load does not pay
//   for a randomly ordered unique index;
// - an id that was not given out (a typo, a profile id used as a user id) decodes to nothing: a 404 without a
//   query.
std::string profileIdFor(std::int64_t legacyOrgId);
std::string userIdFor(std::int64_t legacyUserId);

// The legacy id inside an id given out by profileIdFor / userIdFor; nullopt for anything else.
std::optional<std::int64_t> legacyOrgIdOf(std::string_view profileId);
std::optional<std::int64_t> legacyUserIdOf(std::string_view userId);

}  // namespace bridge
