// Salesforce's token-endpoint and identity answers, as the client hands them to the parser (status and body).
//
// The first input byte picks the HTTP status from those SALESFORCE.md names (and a few it does not); the rest is
// the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "bridge/salesforce/SalesforceResponses.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static constexpr int kStatuses[] = {200, 400, 401, 403, 404, 420, 500, 502, 503, 302};
    const int status = kStatuses[data[0] % (sizeof kStatuses / sizeof kStatuses[0])];
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

    const bridge::ClassifiedTokenResponse token = bridge::classifyTokenResponse(status, body);
    if (token.result.succeeded()) {
        // Only a 200 with an access token is a grant.
        if (status != 200 || token.result.value().accessToken.empty()) __builtin_trap();
    }
    const bridge::IdentityResult identity = bridge::readIdentityResponse(status, body);
    if (identity.succeeded()) {
        const bridge::SalesforceIdentity& who = identity.value();
        if (status != 200 || who.userId.empty() || who.organizationId.empty()) __builtin_trap();
    }
    return 0;
}
