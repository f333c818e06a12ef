#include "legacy/LegacyApi.h"

#include <Poco/NumberParser.h>

#include "bridge/http/JsonBody.h"
#include "bridge/http/JsonWriter.h"
#include "legacy/LegacyErrors.h"
#include "mappings/ConnectionNames.h"
#include "mappings/Times.h"
#include "mappings/UserNames.h"

namespace bridge::legacy {

namespace {

constexpr std::string_view kBase = "/legacy/api";
constexpr int kDefaultPageSize = 50;

ApiResponse envelope(int status, const std::function<void(JsonWriter&)>& writeData) {
    JsonWriter json;
    json.beginObject().field("success", true).key("data");
    writeData(json);
    json.endObject();
    return ApiResponse::json(status, json.take());
}

std::optional<std::string> legacyTime(const std::optional<UnixSeconds>& at) {
    if (!at) return std::nullopt;
    return mappings::formatLegacyTime(*at);
}

void writeConnectivity(JsonWriter& json, std::int64_t orgId, const Connection& c) {
    const bool holdsAccount = c.status != ConnectionStatus::NotConnected;
    json.beginObject()
        .field("orgId", orgId)
        .field("loginUsingServiceAccount", c.serviceAccountLoginEnabled)
        .field("authorizationMethod", "oauth")
        .key("availableAuthorizationMethods")
        .beginArray()
        .value("oauth")
        .endArray();
    json.key("environment");
    if (c.environment) {
        json.value(mappings::environmentName(*c.environment));
    } else {
        json.null();
    }
    json.field("connectionStatus", mappings::legacyStatusName(c.status))
        .field("statusMessage", mappings::legacyStatusMessage(c.status))
        .field("serviceAccountUserId", holdsAccount ? c.serviceAccountUserId : std::nullopt)
        .field("serviceAccountUsername", holdsAccount ? c.serviceAccountUsername : std::nullopt)
        .field("statusChangedAt", legacyTime(c.statusChangedAt));
    json.key("lostDialog");
    if (c.status == ConnectionStatus::Disconnected) {
        json.beginObject()
            .field("message", mappings::legacyStatusMessage(c.status))
            .field("reason", c.lastError)
            .field("since", legacyTime(c.statusChangedAt))
            .endObject();
    } else {
        json.null();
    }
    json.endObject();
}

void writeUser(JsonWriter& json, const User& user, bool withNotification) {
    json.beginObject()
        .field("id", user.legacyId)
        .field("email", user.email)
        .field("displayName", user.displayName)
        .field("active", user.active)
        .field("syncSuspended", user.syncSuspended)
        .key("highlight");
    if (auto highlight = mappings::legacyHighlight(user.syncSuspended)) {
        json.value(*highlight);
    } else {
        json.null();
    }
    if (withNotification) json.field("notification", user.syncSuspended ? user.suspendReason : std::nullopt);
    json.endObject();
}

std::int64_t queryInteger(const ApiRequest& request, const std::string& name, std::int64_t fallback) {
    auto text = request.queryParameter(name);
    if (!text) return fallback;
    Poco::Int64 value = 0;
    if (text->empty() || text->find_first_not_of("0123456789") != std::string::npos ||
        !Poco::NumberParser::tryParse64(*text, value)) {
        throwValidation(name, name + " must be a non-negative integer");
    }
    return value;
}

Actor actorOf(const ApiRequest& request) { return Actor{Panel::Legacy, request.caller().subject}; }

}  // namespace

LegacyApi::LegacyApi(Directory& directory, Connectivity& connectivity)
    : directory_(directory), connectivity_(connectivity) {
    const std::string org = std::string(kBase) + "/organizations/{orgId}";
    auto bind = [this](ApiResponse (LegacyApi::*handler)(ApiRequest&)) {
        return [this, handler](ApiRequest& request) { return (this->*handler)(request); };
    };
    routes_ = {
        {"GET", std::string(kBase) + "/organizations", Access::Panel, bind(&LegacyApi::organizations)},
        {"GET", org + "/salesforce-connectivity", Access::Panel, bind(&LegacyApi::connectivity)},
        {"PUT", org + "/salesforce-connectivity", Access::Panel, bind(&LegacyApi::changeConnectivity)},
        {"POST", org + "/salesforce-connectivity/connect", Access::Panel, bind(&LegacyApi::connect)},
        {"POST", org + "/salesforce-connectivity/reconnect", Access::Panel, bind(&LegacyApi::reconnect)},
        {"GET", org + "/users", Access::Panel, bind(&LegacyApi::users)},
        {"GET", org + "/users/{userId}", Access::Panel, bind(&LegacyApi::user)},
    };
}

bool LegacyApi::owns(std::string_view path) const {
    return path == kBase ||
           (path.size() > kBase.size() && path.substr(0, kBase.size()) == kBase && path[kBase.size()] == '/');
}

ApiResponse LegacyApi::errorResponse(const Error& error) const {
    const LegacyWire wire = errorToWire(error.code());
    JsonWriter json;
    json.beginObject()
        .field("success", false)
        .field("errorCode", wire.code)
        .field("message", std::string_view(error.what()));
    if (!error.field().empty()) json.field("field", error.field());
    json.endObject();
    return ApiResponse::json(wire.status, json.take());
}

Organization LegacyApi::organizationOf(const ApiRequest& request) {
    return directory_.organization(request.caller(),
                                   request.integerPathParameter("orgId", ErrorCode::OrganizationNotFound));
}

ApiResponse LegacyApi::organizations(ApiRequest& request) {
    // The legacy panel lists every organization in scope at once; read them in pages so no query is unbounded.
    std::vector<Organization> all;
    for (std::int64_t after = 0;;) {
        auto page = directory_.organizations(request.caller(), after, Directory::kMaxPageSize);
        all.insert(all.end(), page.begin(), page.end());
        if (static_cast<int>(page.size()) < Directory::kMaxPageSize) break;
        after = page.back().legacyId;
    }
    return envelope(200, [&](JsonWriter& json) {
        json.beginArray();
        for (const auto& organization : all) {
            json.beginObject().field("id", organization.legacyId).field("name", organization.name).endObject();
        }
        json.endArray();
    });
}

ApiResponse LegacyApi::connectivity(ApiRequest& request) {
    const Organization organization = organizationOf(request);
    const Connection connection = connectivity_.connection(organization.legacyId);
    return envelope(200, [&](JsonWriter& json) { writeConnectivity(json, organization.legacyId, connection); });
}

ApiResponse LegacyApi::changeConnectivity(ApiRequest& request) {
    const Organization organization = organizationOf(request);
    const JsonBody body = JsonBody::parse(request.body);
    LegacySettingsChange change;
    change.serviceAccountLoginEnabled = body.optionalBool("loginUsingServiceAccount");
    change.authorizationMethod = body.optionalString("authorizationMethod");
    const Connection connection = connectivity_.changeLegacySettings(organization.legacyId, change, actorOf(request));
    return envelope(200, [&](JsonWriter& json) { writeConnectivity(json, organization.legacyId, connection); });
}

ApiResponse LegacyApi::connect(ApiRequest& request) {
    const Organization organization = organizationOf(request);
    const JsonBody body = JsonBody::parse(request.body);
    const auto environment = mappings::parseEnvironmentName(body.requiredString("environment"));
    if (!environment) throwValidation("environment", "environment must be production or sandbox");
    const std::string url =
        connectivity_.startLogin(organization.legacyId, LoginKind::Connect, environment, actorOf(request));
    return envelope(200, [&](JsonWriter& json) { json.beginObject().field("authorizationUrl", url).endObject(); });
}

ApiResponse LegacyApi::reconnect(ApiRequest& request) {
    const Organization organization = organizationOf(request);
    const std::string url =
        connectivity_.startLogin(organization.legacyId, LoginKind::Reconnect, std::nullopt, actorOf(request));
    return envelope(200, [&](JsonWriter& json) { json.beginObject().field("authorizationUrl", url).endObject(); });
}

ApiResponse LegacyApi::users(ApiRequest& request) {
    const Organization organization = organizationOf(request);
    const std::int64_t offset = queryInteger(request, "offset", 0);
    const std::int64_t limit = queryInteger(request, "limit", kDefaultPageSize);
    if (limit > Directory::kMaxPageSize || limit < 1) throwValidation("limit", "limit must be from 1 to 500");
    const UserListing listing = directory_.usersByOffset(organization, offset, static_cast<int>(limit));
    return envelope(200, [&](JsonWriter& json) {
        json.beginObject().field("total", listing.total).key("users").beginArray();
        for (const auto& user : listing.users) writeUser(json, user, false);
        json.endArray().endObject();
    });
}

ApiResponse LegacyApi::user(ApiRequest& request) {
    const Organization organization = organizationOf(request);
    const User user = directory_.user(organization, request.integerPathParameter("userId", ErrorCode::UserNotFound));
    return envelope(200, [&](JsonWriter& json) { writeUser(json, user, true); });
}

}  // namespace bridge::legacy
