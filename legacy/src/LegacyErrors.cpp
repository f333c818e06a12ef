#include "legacy/LegacyErrors.h"

namespace bridge::legacy {

LegacyWire errorToWire(ErrorCode code) {
    switch (code) {
        case ErrorCode::Unauthenticated: return {401, "UNAUTHORIZED"};
        case ErrorCode::Forbidden: return {403, "FORBIDDEN"};
        case ErrorCode::RouteNotFound: return {404, "NOT_FOUND"};
        case ErrorCode::OrganizationNotFound: return {404, "ORG_NOT_FOUND"};
        case ErrorCode::UserNotFound: return {404, "USER_NOT_FOUND"};
        case ErrorCode::ValidationFailed: return {400, "VALIDATION_FAILED"};
        case ErrorCode::PayloadTooLarge: return {413, "PAYLOAD_TOO_LARGE"};
        case ErrorCode::AuthMethodUnavailable: return {422, "AUTH_METHOD_UNAVAILABLE"};
        case ErrorCode::ServiceAccountLoginDisabled: return {409, "SERVICE_ACCOUNT_LOGIN_DISABLED"};
        case ErrorCode::NothingToReconnect: return {409, "NOTHING_TO_RECONNECT"};
        case ErrorCode::NotConnected: return {409, "NOTHING_TO_RECONNECT"};
        case ErrorCode::EmailTaken: return {409, "EMAIL_TAKEN"};
        case ErrorCode::StoreUnavailable: return {503, "STORE_UNAVAILABLE"};
        case ErrorCode::SalesforceUnavailable: return {503, "SALESFORCE_UNAVAILABLE"};
        case ErrorCode::AddinNotSupported:
        case ErrorCode::SyncSuspended:
        case ErrorCode::UserInactive:
        case ErrorCode::Internal: return {500, "INTERNAL"};
    }
    return {500, "INTERNAL"};
}

}  // namespace bridge::legacy
