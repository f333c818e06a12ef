#pragma once

#include <string_view>

#include "bridge/salesforce/SalesforceIdentity.h"
#include "bridge/salesforce/TokenGrant.h"

// How Salesforce's answers read (SALESFORCE.md). The one place that decides permanent versus transient.
namespace bridge {

struct ClassifiedTokenResponse {
    // For an unrecognised refusal: a PermanentRefusal failure carrying Salesforce's error and description.
    TokenResult result;
    // An invalid_grant whose description SALESFORCE.md does not list: permanent only when a second try answers
    // the same, otherwise the second answer counts.
    bool unrecognisedRefusal = false;
};

// One answer of the token endpoint (code exchange or refresh). Transport failures never get here.
ClassifiedTokenResponse classifyTokenResponse(int status, std::string_view body);

// One answer of an identity URL: 401/403 mean the access token is refused (permanent), anything else that is not a
// 200 with the identity fields is transient.
IdentityResult readIdentityResponse(int status, std::string_view body);

}  // namespace bridge
