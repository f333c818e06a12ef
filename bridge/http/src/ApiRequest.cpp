#include "bridge/http/ApiRequest.h"

#include <Poco/NumberParser.h>

#include "bridge/base/Error.h"
#include "bridge/http/ApiFamily.h"

namespace bridge {

const std::string& ApiRequest::pathParameter(const std::string& name) const {
    auto found = pathParameters.find(name);
    if (found == pathParameters.end()) throw Error(ErrorCode::Internal, "route has no parameter " + name);
    return found->second;
}

std::optional<std::string> ApiRequest::queryParameter(const std::string& name) const {
    for (const auto& [key, value] : query) {
        if (key == name) return value;
    }
    return std::nullopt;
}

const Principal& ApiRequest::caller() const {
    if (!principal) throw Error(ErrorCode::Unauthenticated, "A bearer token is required.");
    return *principal;
}

std::int64_t ApiRequest::integerPathParameter(const std::string& name, ErrorCode notFound) const {
    Poco::Int64 value = 0;
    const auto& text = pathParameter(name);
    if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos ||
        !Poco::NumberParser::tryParse64(text, value) || value <= 0) {
        throw Error(notFound, notFound == ErrorCode::UserNotFound ? "No such user." : "No such organization.");
    }
    return value;
}

ApiResponse ApiResponse::json(int status, std::string body) {
    ApiResponse response;
    response.status = status;
    response.body = std::move(body);
    return response;
}

ApiResponse ApiResponse::noContent() {
    ApiResponse response;
    response.status = 204;
    response.contentType.clear();
    return response;
}

ApiResponse ApiResponse::redirect(const std::string& location) {
    ApiResponse response;
    response.status = 302;
    response.contentType.clear();
    response.headers.emplace_back("Location", location);
    return response;
}

ApiResponse ApiResponse::browserPage(std::string contentType, std::string body,
                                     std::string_view contentSecurityPolicy) {
    ApiResponse response;
    response.contentType = std::move(contentType);
    response.body = std::move(body);
    response.headers = {{"Content-Security-Policy", std::string(contentSecurityPolicy)},
                        {"X-Content-Type-Options", "nosniff"},
                        {"Referrer-Policy", "no-referrer"},
                        {"Cache-Control", "no-store"}};
    return response;
}

bool matchPathTemplate(std::string_view pathTemplate, std::string_view path,
                       std::map<std::string, std::string>& parameters) {
    parameters.clear();
    while (!pathTemplate.empty() && !path.empty()) {
        if (pathTemplate.front() == '{') {
            const auto close = pathTemplate.find('}');
            const auto name = pathTemplate.substr(1, close - 1);
            const auto segmentEnd = std::min(path.find('/'), path.size());
            if (segmentEnd == 0) return false;
            parameters.emplace(std::string(name), std::string(path.substr(0, segmentEnd)));
            pathTemplate.remove_prefix(close + 1);
            path.remove_prefix(segmentEnd);
            continue;
        }
        if (pathTemplate.front() != path.front()) return false;
        pathTemplate.remove_prefix(1);
        path.remove_prefix(1);
    }
    return pathTemplate.empty() && path.empty();
}

}  // namespace bridge
