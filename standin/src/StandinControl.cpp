#include "StandinControl.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include <limits>
#include <stdexcept>

#include "standin/SalesforceIds.h"

namespace bridge::standin {
namespace {

// A control request the stand-in cannot act on: answered 400 with the message.
class BadControlRequest : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

Poco::JSON::Object::Ptr parseBody(const std::string& body) {
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) return new Poco::JSON::Object;
    Poco::Dynamic::Var parsed;
    try {
        parsed = Poco::JSON::Parser().parse(body);
    } catch (const Poco::Exception& error) {
        throw BadControlRequest("body is not JSON: " + error.message());
    }
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) throw BadControlRequest("body must be a JSON object");
    return parsed.extract<Poco::JSON::Object::Ptr>();
}

bool isAbsent(const Poco::JSON::Object& object, const std::string& key) {
    return !object.has(key) || object.isNull(key);
}

std::optional<std::string> optionalString(const Poco::JSON::Object& object, const std::string& key) {
    if (isAbsent(object, key)) return std::nullopt;
    Poco::Dynamic::Var value = object.get(key);
    if (!value.isString()) throw BadControlRequest("'" + key + "' must be a string");
    return value.convert<std::string>();
}

std::optional<bool> optionalBool(const Poco::JSON::Object& object, const std::string& key) {
    if (isAbsent(object, key)) return std::nullopt;
    Poco::Dynamic::Var value = object.get(key);
    if (!value.isBoolean()) throw BadControlRequest("'" + key + "' must be true or false");
    return value.convert<bool>();
}

std::optional<int> optionalNonNegativeInt(const Poco::JSON::Object& object, const std::string& key) {
    if (isAbsent(object, key)) return std::nullopt;
    Poco::Dynamic::Var value = object.get(key);
    if (!value.isInteger()) throw BadControlRequest("'" + key + "' must be an integer");
    const auto number = value.convert<Poco::Int64>();
    if (number < 0 || number > std::numeric_limits<int>::max()) throw BadControlRequest("'" + key + "' out of range");
    return static_cast<int>(number);
}

Poco::JSON::Object identityToJson(const Identity& identity) {
    Poco::JSON::Object json;
    json.set("userId", identity.userId);
    json.set("organizationId", identity.organizationId);
    json.set("username", identity.username);
    json.set("email", identity.email);
    json.set("displayName", identity.displayName);
    json.set("active", identity.active);
    json.set("userType", identity.userType);
    return json;
}

Poco::JSON::Object settingsToJson(const StandinSettings& settings) {
    Poco::JSON::Object json;
    json.set("rotation", settings.rotation);
    json.set("approvalLimit", settings.approvalLimit);
    json.set("refreshDelayMs", settings.refreshDelayMs);
    json.set("revokeRedirect", settings.revokeRedirect);
    json.set("revokeRedirectBase", settings.revokeRedirectBase);
    json.set("instanceUrl", settings.instanceUrl);
    json.set("identityUrl", settings.identityUrl);
    return json;
}

IdentityUpdate identityUpdateFrom(const Poco::JSON::Object& body) {
    return IdentityUpdate{.userId = optionalString(body, "userId"),
                          .organizationId = optionalString(body, "organizationId"),
                          .username = optionalString(body, "username"),
                          .email = optionalString(body, "email"),
                          .displayName = optionalString(body, "displayName"),
                          .active = optionalBool(body, "active"),
                          .userType = optionalString(body, "userType")};
}

TokenFault faultFrom(const Poco::JSON::Object& body) {
    const std::optional<std::string> kindName = optionalString(body, "kind");
    if (!kindName) throw BadControlRequest("'kind' is required");
    const std::optional<FaultKind> kind = faultKindFromName(*kindName);
    if (!kind) throw BadControlRequest("unknown fault kind '" + *kindName + "'");
    TokenFault fault;
    fault.kind = *kind;
    fault.remaining = optionalNonNegativeInt(body, "count").value_or(1);
    if (fault.remaining < 1) throw BadControlRequest("'count' must be at least 1");
    fault.grantType = optionalString(body, "grant");
    if (fault.grantType && *fault.grantType != "refresh_token" && *fault.grantType != "authorization_code") {
        throw BadControlRequest("'grant' must be refresh_token, authorization_code or null");
    }
    fault.hangMs = optionalNonNegativeInt(body, "hangMs").value_or(fault.hangMs);
    fault.description = optionalString(body, "description").value_or(fault.description);
    fault.status = optionalNonNegativeInt(body, "status").value_or(fault.status);
    if (fault.status < 500 || fault.status > 599) throw BadControlRequest("'status' must be a 5xx status");
    return fault;
}

std::string requiredUserId(const Poco::JSON::Object& body) {
    std::optional<std::string> userId = optionalString(body, "userId");
    if (!userId) throw BadControlRequest("'userId' is required");
    return *userId;
}

StandinAnswer unknownUser() {
    Poco::JSON::Object body;
    body.set("error", "unknown user");
    return StandinAnswer::json(404, body);
}

}  // namespace

StandinControl::StandinControl(StandinState& state) : state_(state) {}

StandinAnswer StandinControl::handle(const StandinRequest& request) {
    try {
        return dispatch(request);
    } catch (const BadControlRequest& error) {
        Poco::JSON::Object body;
        body.set("error", error.what());
        return StandinAnswer::json(400, body);
    } catch (const std::invalid_argument& error) {  // a malformed Salesforce id
        Poco::JSON::Object body;
        body.set("error", error.what());
        return StandinAnswer::json(400, body);
    }
}

StandinAnswer StandinControl::dispatch(const StandinRequest& request) {
    const std::string& path = request.path;
    if (request.method == "GET" && path == "/control/counters") return StandinAnswer::json(200, state_.counters());
    if (request.method == "GET" && path == "/control/identity") {
        return StandinAnswer::json(200, identityToJson(state_.currentIdentity()));
    }
    if (request.method != "POST") {
        Poco::JSON::Object body;
        body.set("error", "no such control endpoint: " + request.method + " " + path);
        return StandinAnswer::json(404, body);
    }

    const Poco::JSON::Object::Ptr body = parseBody(request.body);
    Poco::JSON::Object answer;
    if (path == "/control/identity") {
        return StandinAnswer::json(200, identityToJson(state_.setIdentity(identityUpdateFrom(*body))));
    }
    if (path == "/control/authorize") {
        const std::optional<std::string> decision = optionalString(*body, "decision");
        if (decision != "approve" && decision != "deny") throw BadControlRequest("'decision' must be approve or deny");
        state_.setAuthorizeDecision(*decision == "approve");
        answer.set("decision", *decision);
        return StandinAnswer::json(200, answer);
    }
    if (path == "/control/faults") {
        answer.set("queued", state_.queueFault(faultFrom(*body)));
        return StandinAnswer::json(200, answer);
    }
    if (path == "/control/refresh-tokens/expire") {
        answer.set("expired", state_.expireRefreshTokens(optionalString(*body, "userId"),
                                                         optionalString(*body, "organizationId")));
        return StandinAnswer::json(200, answer);
    }
    if (path == "/control/users/deactivate" || path == "/control/users/password-changed") {
        const std::string userId = requiredUserId(*body);
        const bool known =
            path == "/control/users/deactivate" ? state_.deactivateUser(userId) : state_.markPasswordChanged(userId);
        if (!known) return unknownUser();
        answer.set("userId", toEighteenCharacterId(userId));
        return StandinAnswer::json(200, answer);
    }
    if (path == "/control/settings") {
        const StandinSettingsUpdate update{.rotation = optionalBool(*body, "rotation"),
                                           .approvalLimit = optionalBool(*body, "approvalLimit"),
                                           .refreshDelayMs = optionalNonNegativeInt(*body, "refreshDelayMs"),
                                           .revokeRedirect = optionalBool(*body, "revokeRedirect"),
                                           .revokeRedirectBase = optionalString(*body, "revokeRedirectBase"),
                                           .instanceUrl = optionalString(*body, "instanceUrl"),
                                           .identityUrl = optionalString(*body, "identityUrl")};
        return StandinAnswer::json(200, settingsToJson(state_.updateSettings(update)));
    }
    if (path == "/control/reset") {
        state_.reset();
        return StandinAnswer::json(200, answer);
    }
    answer.set("error", "no such control endpoint: POST " + path);
    return StandinAnswer::json(404, answer);
}

}  // namespace bridge::standin
