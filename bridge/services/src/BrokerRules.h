#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bridge/base/Error.h"
#include "bridge/store/Model.h"

namespace bridge {

// Why the broker may not serve the organization's users from this connection (NotConnected: no service account or
// the legacy toggle off; SyncSuspended: lost, with Salesforce's reason as the message), or nullopt when it may.
std::optional<Error> refusalFor(const Connection& connection);

// What the organization's shared access token is sealed for: "org:<id>:access".
std::string accessTokenAssociatedData(std::int64_t orgId);

}  // namespace bridge
