#include "bridge/http/ProblemJson.h"

#include "bridge/http/JsonWriter.h"

namespace bridge {

ProblemWire errorToProblem(ErrorCode code) {
    switch (code) {
        case ErrorCode::Unauthenticated: return {401, "UNAUTHORIZED", "Unauthorized"};
        case ErrorCode::Forbidden: return {403, "FORBIDDEN", "Forbidden"};
        case ErrorCode::RouteNotFound: return {404, "NOT_FOUND", "Not found"};
        case ErrorCode::OrganizationNotFound: return {404, "PROFILE_NOT_FOUND", "Profile not found"};
        case ErrorCode::UserNotFound: return {404, "USER_NOT_FOUND", "User not found"};
        case ErrorCode::ValidationFailed: return {400, "VALIDATION_FAILED", "Validation failed"};
        case ErrorCode::PayloadTooLarge: return {413, "PAYLOAD_TOO_LARGE", "Payload too large"};
        case ErrorCode::AuthMethodUnavailable:
            return {422, "AUTH_METHOD_UNAVAILABLE", "Authorization method unavailable"};
        case ErrorCode::ServiceAccountLoginDisabled:
            return {409, "SERVICE_ACCOUNT_LOGIN_DISABLED", "Service-account login disabled"};
        case ErrorCode::NothingToReconnect: return {409, "NOT_CONNECTED", "Not connected"};
        case ErrorCode::NotConnected: return {409, "NOT_CONNECTED", "Not connected"};
        case ErrorCode::EmailTaken: return {409, "EMAIL_TAKEN", "Email taken"};
        case ErrorCode::AddinNotSupported: return {409, "ADDIN_NOT_SUPPORTED", "Add-in not supported"};
        case ErrorCode::SyncSuspended: return {409, "SYNC_SUSPENDED", "Synchronization suspended"};
        case ErrorCode::UserInactive: return {403, "USER_INACTIVE", "User inactive"};
        case ErrorCode::SalesforceUnavailable: return {503, "SALESFORCE_UNAVAILABLE", "Salesforce unavailable"};
        case ErrorCode::StoreUnavailable: return {503, "STORE_UNAVAILABLE", "Store unavailable"};
        case ErrorCode::Internal: return {500, "INTERNAL", "Internal error"};
    }
    return {500, "INTERNAL", "Internal error"};
}

ApiResponse problemResponse(const Error& error) {
    const ProblemWire wire = errorToProblem(error.code());
    JsonWriter json;
    json.beginObject()
        .field("type", "urn:bridge:problem:" + std::string(wire.code))
        .field("title", wire.title)
        .field("status", wire.status)
        .field("detail", std::string_view(error.what()))
        .field("code", wire.code);
    if (!error.field().empty()) json.field("field", error.field());
    json.endObject();
    ApiResponse response = ApiResponse::json(wire.status, json.take());
    response.contentType = "application/problem+json";
    return response;
}

}  // namespace bridge
