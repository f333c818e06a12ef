#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace bridge {

// Every failure a request can end in. Each panel maps a code to its HTTP status and wire code in one function
// (legacy::errorToWire, modern::errorToProblem); nothing else decides statuses.
enum class ErrorCode {
    Unauthenticated,              // missing, malformed, expired or badly signed bearer token
    Forbidden,                    // a valid token whose role may not use the endpoint at all
    RouteNotFound,                // no such path in the family
    OrganizationNotFound,         // unknown, or outside the caller's scope
    UserNotFound,                 // unknown, or outside the caller's scope
    ValidationFailed,             // bad JSON, missing or mistyped field, out-of-range value
    PayloadTooLarge,              // a body over 64 KiB
    AuthMethodUnavailable,        // legacy "apiOnlyUser"
    ServiceAccountLoginDisabled,  // legacy toggle off
    NothingToReconnect,           // never connected (legacy reconnect)
    NotConnected,                 // never connected (new refresh), or broker with no usable connection
    EmailTaken,
    AddinNotSupported,
    SyncSuspended,
    UserInactive,
    SalesforceUnavailable,
    StoreUnavailable,
    Internal,
};

std::string_view errorCodeName(ErrorCode code);

// A failure with a code the panels know, a message fit for an admin (never a token), and, for validation
// failures, the offending field.
class Error : public std::runtime_error {
public:
    Error(ErrorCode code, std::string message, std::string field = {});

    ErrorCode code() const { return code_; }
    const std::string& field() const { return field_; }

private:
    ErrorCode code_;
    std::string field_;
};

[[noreturn]] void throwValidation(std::string field, std::string message);

}  // namespace bridge
