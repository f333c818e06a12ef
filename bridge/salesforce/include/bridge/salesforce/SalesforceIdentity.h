#pragma once

#include <string>

#include "bridge/salesforce/SalesforceResult.h"

namespace bridge {

// The answer of a Salesforce identity URL. Ids come in the 18-character form.
struct SalesforceIdentity {
    std::string userId;
    std::string organizationId;
    std::string username;
    std::string email;
    std::string displayName;
    bool active = false;
    std::string userType;
};

using IdentityResult = SalesforceResult<SalesforceIdentity>;

}  // namespace bridge
