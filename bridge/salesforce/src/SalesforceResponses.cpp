#include "bridge/salesforce/SalesforceResponses.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <string>

namespace bridge {
namespace {

using Kind = SalesforceFailure::Kind;

constexpr std::string_view kInvalidGrant = "invalid_grant";
constexpr std::string_view kInvalidClient = "invalid_client";
constexpr std::string_view kRequestInProgress = "token request is already being processed";
constexpr std::array<std::string_view, 3> kDeadGrantDescriptions = {
    "expired access/refresh token",
    "authentication failure",
    "inactive user",
};

Poco::JSON::Object::Ptr parseObject(std::string_view body) {
    Poco::Dynamic::Var parsed;
    try {
        parsed = Poco::JSON::Parser().parse(std::string(body));
    } catch (const Poco::Exception&) {
        return nullptr;
    }
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return nullptr;
    return parsed.extract<Poco::JSON::Object::Ptr>();
}

std::string stringField(const Poco::JSON::Object& object, const std::string& name) {
    const Poco::Dynamic::Var value = object.get(name);
    return value.isString() ? value.extract<std::string>() : std::string();
}

// Salesforce sends issued_at as a string of epoch milliseconds; without one, the grant counts as issued now.
std::int64_t issuedAtMs(const Poco::JSON::Object& object) {
    const std::string text = stringField(object, "issued_at");
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error == std::errc() && end == text.data() + text.size() && !text.empty()) return value;
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

SalesforceFailure transient(std::string error, std::string description) {
    return SalesforceFailure{Kind::Transient, std::move(error), std::move(description)};
}

ClassifiedTokenResponse classifyGrant(std::string_view body) {
    const Poco::JSON::Object::Ptr object = parseObject(body);
    if (!object) return {transient("invalid_response", "token endpoint answered 200 with a body that is not JSON")};
    TokenGrant grant;
    grant.accessToken = stringField(*object, "access_token");
    if (grant.accessToken.empty()) {
        return {transient("invalid_response", "token endpoint answered 200 without an access token")};
    }
    if (std::string refreshToken = stringField(*object, "refresh_token"); !refreshToken.empty()) {
        grant.refreshToken = std::move(refreshToken);
    }
    grant.instanceUrl = stringField(*object, "instance_url");
    grant.identityUrl = stringField(*object, "id");
    grant.issuedAtMs = issuedAtMs(*object);
    return {std::move(grant)};
}

ClassifiedTokenResponse classifyRefusal(int status, std::string_view body) {
    const std::string statusText = "token endpoint answered HTTP " + std::to_string(status);
    if (status >= 500) return {transient("server_error", statusText)};
    const Poco::JSON::Object::Ptr object = parseObject(body);
    if (!object) return {transient("invalid_response", statusText + " with a body that is not JSON")};

    SalesforceFailure failure{Kind::Transient, stringField(*object, "error"),
                              stringField(*object, "error_description")};
    if (failure.error.empty()) return {transient("invalid_response", statusText + " without an OAuth error")};
    if (status != 400) return {std::move(failure)};

    if (failure.error == kInvalidClient) {
        failure.kind = Kind::PermanentRefusal;
        return {std::move(failure)};
    }
    if (failure.error != kInvalidGrant || failure.description == kRequestInProgress) return {std::move(failure)};

    failure.kind = Kind::PermanentRefusal;
    const bool listed = std::find(kDeadGrantDescriptions.begin(), kDeadGrantDescriptions.end(), failure.description) !=
                        kDeadGrantDescriptions.end();
    return {std::move(failure), !listed};
}

}  // namespace

ClassifiedTokenResponse classifyTokenResponse(int status, std::string_view body) {
    return status == 200 ? classifyGrant(body) : classifyRefusal(status, body);
}

IdentityResult readIdentityResponse(int status, std::string_view body) {
    const std::string statusText = "identity URL answered HTTP " + std::to_string(status);
    if (status == 401 || status == 403) {
        return SalesforceFailure{Kind::PermanentRefusal, "identity_refused", statusText};
    }
    if (status != 200) return transient("identity_unavailable", statusText);
    const Poco::JSON::Object::Ptr object = parseObject(body);
    if (!object) return transient("invalid_response", "identity URL answered a body that is not JSON");

    SalesforceIdentity identity;
    identity.userId = stringField(*object, "user_id");
    identity.organizationId = stringField(*object, "organization_id");
    if (identity.userId.empty() || identity.organizationId.empty()) {
        return transient("invalid_response", "identity URL answered without user_id or organization_id");
    }
    identity.username = stringField(*object, "username");
    identity.email = stringField(*object, "email");
    identity.displayName = stringField(*object, "display_name");
    const Poco::Dynamic::Var active = object->get("active");
    identity.active = active.isBoolean() && active.extract<bool>();
    identity.userType = stringField(*object, "user_type");
    return identity;
}

}  // namespace bridge
