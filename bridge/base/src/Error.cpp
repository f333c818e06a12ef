#include "bridge/base/Error.h"

namespace bridge {

std::string_view errorCodeName(ErrorCode code) {
    switch (code) {
        case ErrorCode::Unauthenticated: return "UNAUTHORIZED";
        case ErrorCode::Forbidden: return "FORBIDDEN";
        case ErrorCode::RouteNotFound: return "NOT_FOUND";
        case ErrorCode::OrganizationNotFound: return "ORG_NOT_FOUND";
        case ErrorCode::UserNotFound: return "USER_NOT_FOUND";
        case ErrorCode::ValidationFailed: return "VALIDATION_FAILED";
        case ErrorCode::PayloadTooLarge: return "PAYLOAD_TOO_LARGE";
        case ErrorCode::AuthMethodUnavailable: return "AUTH_METHOD_UNAVAILABLE";
        case ErrorCode::ServiceAccountLoginDisabled: return "SERVICE_ACCOUNT_LOGIN_DISABLED";
        case ErrorCode::NothingToReconnect: return "NOTHING_TO_RECONNECT";
        case ErrorCode::NotConnected: return "NOT_CONNECTED";
        case ErrorCode::EmailTaken: return "EMAIL_TAKEN";
        case ErrorCode::AddinNotSupported: return "ADDIN_NOT_SUPPORTED";
        case ErrorCode::SyncSuspended: return "SYNC_SUSPENDED";
        case ErrorCode::UserInactive: return "USER_INACTIVE";
        case ErrorCode::SalesforceUnavailable: return "SALESFORCE_UNAVAILABLE";
        case ErrorCode::StoreUnavailable: return "STORE_UNAVAILABLE";
        case ErrorCode::Internal: return "INTERNAL";
    }
    return "INTERNAL";
}

Error::Error(ErrorCode code, std::string message, std::string field)
    : code_(code), message_(std::move(message)), field_(std::move(field)) {}

void throwValidation(std::string field, std::string message) {
    throw Error(ErrorCode::ValidationFailed, std::move(message), std::move(field));
}

}  // namespace bridge
