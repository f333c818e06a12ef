#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bridge/base/Error.h"
#include "bridge/crypto/TokenCipher.h"
#include "bridge/store/Model.h"

namespace bridge {

// Why the broker may not serve the organization's users from this connection (NotConnected: no service account or
// the legacy toggle off; SyncSuspended: lost, with Salesforce's reason as the message), or nullopt when it may.
std::optional<Error> refusalFor(const Connection& connection);

// What the organization's shared access token is sealed for: the organization, and the instance URL and expiry
// stored beside it, so that whoever can write the store cannot send the token to a host of their choosing.
std::string accessTokenAssociatedData(std::int64_t orgId, std::string_view instanceUrl, UnixSeconds expiresAt);
// What an access token sealed by an earlier version is sealed for: the organization alone.
std::string unboundAccessTokenAssociatedData(std::int64_t orgId);

// A stored access token opened: the token when it authenticates with its row; otherwise why not, when the row
// deserves an event (altered, or sealed under a key this instance lacks). A token sealed by an earlier version,
// before the instance URL was bound, is not used either, but only needs a fresh one: no event.
struct OpenedAccessToken {
    std::optional<std::string> token;
    std::optional<std::string> refusal;
};
OpenedAccessToken openAccessToken(const TokenCipher& cipher, std::int64_t orgId, const StoredAccessToken& stored);

}  // namespace bridge
