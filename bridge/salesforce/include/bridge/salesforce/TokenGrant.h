#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bridge/salesforce/SalesforceResult.h"

namespace bridge {

// A successful answer of Salesforce's token endpoint.
struct TokenGrant {
    std::string accessToken;
    std::optional<std::string> refreshToken;  // a refresh answers one only under refresh token rotation
    std::string instanceUrl;
    std::string identityUrl;  // the answer's "id"
    std::int64_t issuedAtMs = 0;
};

using TokenResult = SalesforceResult<TokenGrant>;

}  // namespace bridge
