#pragma once

#include <exception>
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
// failures, the offending field. Each copy owns its message: the broker hands one refusal to every request that
// waited for a refresh, each in its own thread, and std::runtime_error's message is reference-counted inside
// libstdc++, out of sight of ThreadSanitizer, which then reports the copies' destruction as a race.
class Error : public std::exception {
public:
    Error(ErrorCode code, std::string message, std::string field = {});

    const char* what() const noexcept override { return message_.c_str(); }
    ErrorCode code() const { return code_; }
    const std::string& field() const { return field_; }

private:
    ErrorCode code_;
    std::string message_;
    std::string field_;
};

[[noreturn]] void throwValidation(std::string field, std::string message);

}  // namespace bridge
