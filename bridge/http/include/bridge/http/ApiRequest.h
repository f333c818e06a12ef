#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/URI.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bridge/base/Error.h"
#include "bridge/crypto/TokenAuthority.h"

namespace bridge {

// A request as a handler sees it: the route matched, path parameters extracted, the body read (at most 64 KiB),
// the caller authenticated when the route needs one.
struct ApiRequest {
    const Poco::Net::HTTPServerRequest& raw;
    std::string method;
    std::string path;
    std::string routeTemplate;
    std::map<std::string, std::string> pathParameters;
    Poco::URI::QueryParameters query;
    std::string body;
    std::optional<Principal> principal;

    const std::string& pathParameter(const std::string& name) const;
    std::optional<std::string> queryParameter(const std::string& name) const;
    const Principal& caller() const;
    // The path parameter as a positive integer id; `notFound` is thrown for anything else, so that a malformed
    // id reads like an unknown one.
    std::int64_t integerPathParameter(const std::string& name, ErrorCode notFound) const;
};

struct ApiResponse {
    int status = 200;
    std::string contentType = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;

    static ApiResponse json(int status, std::string body);
    static ApiResponse noContent();
    static ApiResponse redirect(const std::string& location);
    // A page for a browser: the given policy, and nothing sniffed into another type, no referrer passed on, no
    // copy kept.
    static ApiResponse browserPage(std::string contentType, std::string body, std::string_view contentSecurityPolicy);
};

}  // namespace bridge
