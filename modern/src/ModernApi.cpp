#include "modern/ModernApi.h"

#include <limits>

#include "bridge/http/JsonBody.h"
#include "bridge/http/JsonWriter.h"
#include "bridge/http/ProblemJson.h"
#include "mappings/ConnectionNames.h"
#include "mappings/PanelNames.h"
#include "mappings/Times.h"
#include "mappings/UserNames.h"
#include "modern/Paging.h"

namespace bridge::modern {

namespace {

constexpr std::string_view kBase = "/api/v2";

std::optional<std::string> rfc3339(const std::optional<UnixSeconds>& at) {
    if (!at) return std::nullopt;
    return mappings::formatRfc3339(*at);
}

void writeProfile(JsonWriter& json, const Organization& organization) {
    json.beginObject()
        .field("id", organization.publicId())
        .field("name", organization.name)
        .field("legacyOrgId", organization.legacyId)
        .endObject();
}

void writeUser(JsonWriter& json, const User& user) {
    json.beginObject()
        .field("id", user.publicId())
        .field("email", user.email)
        .field("displayName", user.displayName)
        .field("active", user.active)
        .field("legacyUserId", user.legacyId)
        .field("salesforceUserId", user.salesforceUserId)
        .key("synchronization")
        .beginObject()
        .field("status", mappings::synchronizationStatusName(user.syncSuspended))
        .field("reason", user.syncSuspended ? user.suspendReason : std::nullopt)
        .endObject()
        .endObject();
}

void writeConnectivity(JsonWriter& json, const Connection& c) {
    const bool holdsAccount = c.status != ConnectionStatus::NotConnected;
    json.beginObject()
        .key("crm")
        .beginObject()
        .field("provider", "salesforce")
        .field("status", mappings::modernStatusName(c.status));
    json.key("environment");
    if (c.environment) {
        json.value(mappings::environmentName(*c.environment));
    } else {
        json.null();
    }
    json.key("serviceAccount");
    if (holdsAccount) {
        json.beginObject()
            .field("userId", c.serviceAccountUserId)
            .field("username", c.serviceAccountUsername)
            .field("organizationId", c.salesforceOrgId)
            .endObject();
    } else {
        json.null();
    }
    json.field("connectedAt", holdsAccount ? rfc3339(c.connectedAt) : std::nullopt)
        .field("statusChangedAt", rfc3339(c.statusChangedAt))
        .field("lastError", c.status == ConnectionStatus::Disconnected ? c.lastError : std::nullopt)
        .key("actions")
        .beginArray();
    for (auto action : mappings::modernActions(c.status)) json.value(action);
    json.endArray().endObject().endObject();
}

template <typename Item, typename Write, typename KeyOf>
ApiResponse page(int status, const std::vector<Item>& items, int limit, Write write, KeyOf keyOf) {
    JsonWriter json;
    json.beginObject().key("items").beginArray();
    for (const auto& item : items) write(json, item);
    json.endArray().key("nextCursor");
    if (static_cast<int>(items.size()) == limit && !items.empty()) {
        json.value(cursorFor(keyOf(items.back())));
    } else {
        json.null();
    }
    json.endObject();
    return ApiResponse::json(status, json.take());
}

ApiResponse one(int status, const std::function<void(JsonWriter&)>& write) {
    JsonWriter json;
    write(json);
    return ApiResponse::json(status, json.take());
}

Actor actorOf(const ApiRequest& request) { return Actor{Panel::Modern, request.caller().subject}; }

ApiResponse authorizationUrl(const std::string& url) {
    return one(200, [&](JsonWriter& json) { json.beginObject().field("authorizationUrl", url).endObject(); });
}

}  // namespace

ModernApi::ModernApi(Directory& directory, Connectivity& connectivity)
    : directory_(directory), connectivity_(connectivity) {
    const std::string profiles = std::string(kBase) + "/profiles";
    const std::string profile = profiles + "/{profileId}";
    auto bind = [this](ApiResponse (ModernApi::*handler)(ApiRequest&)) {
        return [this, handler](ApiRequest& request) { return (this->*handler)(request); };
    };
    routes_ = {
        {"GET", profiles, Access::Panel, bind(&ModernApi::profiles)},
        {"POST", profiles, Access::Panel, bind(&ModernApi::createProfile)},
        {"GET", profile + "/connectivity", Access::Panel, bind(&ModernApi::connectivity)},
        {"POST", profile + "/connectivity/crm/login", Access::Panel, bind(&ModernApi::login)},
        {"POST", profile + "/connectivity/crm/refresh", Access::Panel, bind(&ModernApi::refresh)},
        {"DELETE", profile + "/connectivity/crm", Access::Panel, bind(&ModernApi::disconnect)},
        {"GET", profile + "/connectivity/events", Access::Panel, bind(&ModernApi::events)},
        {"GET", profile + "/notifications", Access::Panel, bind(&ModernApi::notifications)},
        {"GET", profile + "/users", Access::Panel, bind(&ModernApi::users)},
        {"POST", profile + "/users", Access::Panel, bind(&ModernApi::createUser)},
        {"PATCH", profile + "/users/{userId}", Access::Panel, bind(&ModernApi::updateUser)},
    };
}

bool ModernApi::owns(std::string_view path) const {
    return path == kBase ||
           (path.size() > kBase.size() && path.substr(0, kBase.size()) == kBase && path[kBase.size()] == '/');
}

ApiResponse ModernApi::errorResponse(const Error& error) const { return problemResponse(error); }

Organization ModernApi::profileOf(const ApiRequest& request) {
    return directory_.profile(request.caller(), request.pathParameter("profileId"));
}

ApiResponse ModernApi::profiles(ApiRequest& request) {
    const PageRequest request_page = pageRequestOf(request);
    const auto found =
        directory_.organizations(request.caller(), request_page.afterKey.value_or(0), request_page.limit);
    return page(200, found, request_page.limit, writeProfile, [](const Organization& o) { return o.legacyId; });
}

ApiResponse ModernApi::createProfile(ApiRequest& request) {
    if (request.caller().role != Role::Support) throw Error(ErrorCode::Forbidden, "Only support may create profiles.");
    const JsonBody body = JsonBody::parse(request.body);
    const Organization created = directory_.createProfile(request.caller(), body.requiredString("name"));
    return one(201, [&](JsonWriter& json) { writeProfile(json, created); });
}

ApiResponse ModernApi::connectivity(ApiRequest& request) {
    const Organization profile = profileOf(request);
    const Connection connection = connectivity_.connection(profile.legacyId);
    return one(200, [&](JsonWriter& json) { writeConnectivity(json, connection); });
}

ApiResponse ModernApi::login(ApiRequest& request) {
    const Organization profile = profileOf(request);
    const JsonBody body = JsonBody::parse(request.body, true);
    std::optional<Environment> environment;
    if (auto name = body.optionalString("environment")) {
        environment = mappings::parseEnvironmentName(*name);
        if (!environment) throwValidation("environment", "environment must be production or sandbox");
    }
    return authorizationUrl(
        connectivity_.startLogin(profile.legacyId, LoginKind::Login, environment, actorOf(request)));
}

ApiResponse ModernApi::refresh(ApiRequest& request) {
    const Organization profile = profileOf(request);
    return authorizationUrl(
        connectivity_.startLogin(profile.legacyId, LoginKind::Refresh, std::nullopt, actorOf(request)));
}

ApiResponse ModernApi::disconnect(ApiRequest& request) {
    const Organization profile = profileOf(request);
    connectivity_.disconnect(profile.legacyId, actorOf(request));
    return ApiResponse::noContent();
}

ApiResponse ModernApi::notifications(ApiRequest& request) {
    const Organization profile = profileOf(request);
    const PageRequest request_page = pageRequestOf(request);
    const auto found = connectivity_.notifications(
        profile.legacyId, request_page.afterKey.value_or(std::numeric_limits<std::int64_t>::max()), request_page.limit);
    auto time = [](const std::optional<UnixMillis>& ms) {
        return ms ? std::optional<std::string>(mappings::formatRfc3339(*ms / 1000)) : std::nullopt;
    };
    auto write = [&time](JsonWriter& json, const Notification& notification) {
        json.beginObject()
            .field("id", notification.id)
            .field("type", notificationTypeName(notification.type))
            .field("occurredAt", mappings::formatRfc3339(notification.occurredAt))
            .field("state", deliveryStateName(notification.state))
            .field("attempts", notification.attempts)
            .field("lastAttemptAt", time(notification.lastAttemptAtMs))
            .field("nextAttemptAt", notification.state == DeliveryState::Pending ? time(notification.nextAttemptAtMs)
                                                                                 : std::optional<std::string>())
            .field("deliveredAt", time(notification.deliveredAtMs))
            .field("lastError", notification.lastError)
            .endObject();
    };
    return page(200, found, request_page.limit, write, [](const Notification& n) { return n.sequence; });
}

ApiResponse ModernApi::events(ApiRequest& request) {
    const Organization profile = profileOf(request);
    const PageRequest request_page = pageRequestOf(request);
    const auto found = connectivity_.events(
        profile.legacyId, request_page.afterKey.value_or(std::numeric_limits<std::int64_t>::max()), request_page.limit);
    auto write = [](JsonWriter& json, const Event& event) {
        json.beginObject().field("at", mappings::formatRfc3339(event.at)).field("type", eventTypeName(event.type));
        json.key("panel");
        if (event.panel) {
            json.value(mappings::panelName(*event.panel));
        } else {
            json.null();
        }
        json.field("actor", event.actor).field("detail", event.detail).endObject();
    };
    return page(200, found, request_page.limit, write, [](const Event& e) { return e.id; });
}

ApiResponse ModernApi::users(ApiRequest& request) {
    const Organization profile = profileOf(request);
    const PageRequest request_page = pageRequestOf(request);
    const auto found = directory_.usersAfter(profile, request_page.afterKey.value_or(0), request_page.limit);
    return page(200, found, request_page.limit, writeUser, [](const User& u) { return u.legacyId; });
}

ApiResponse ModernApi::createUser(ApiRequest& request) {
    const Organization profile = profileOf(request);
    const JsonBody body = JsonBody::parse(request.body);
    UserDraft draft;
    draft.email = body.requiredString("email");
    draft.displayName = body.optionalString("displayName");
    draft.salesforceUserId = body.optionalString("salesforceUserId");
    draft.active = body.optionalBool("active").value_or(true);
    const User created = directory_.createUser(profile, draft);
    return one(201, [&](JsonWriter& json) { writeUser(json, created); });
}

ApiResponse ModernApi::updateUser(ApiRequest& request) {
    const Organization profile = profileOf(request);
    const JsonBody body = JsonBody::parse(request.body);
    UserChanges changes;
    changes.displayName = body.nullableString("displayName");
    changes.salesforceUserId = body.nullableString("salesforceUserId");
    changes.active = body.optionalBool("active");
    if (body.isNull("active")) throwValidation("active", "active must be true or false");
    const User updated = directory_.updateUser(profile, request.pathParameter("userId"), changes);
    return one(200, [&](JsonWriter& json) { writeUser(json, updated); });
}

}  // namespace bridge::modern
