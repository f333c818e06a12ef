#pragma once

#include <Poco/JSON/Object.h>

#include <chrono>
#include <map>
#include <string>

namespace bridge::standin::test {

struct HttpReply {
    int status = 0;
    std::string body;
    std::string contentType;
    std::string location;

    // The body parsed as a JSON object; fails the calling test's expectations by throwing if it is not one.
    Poco::JSON::Object::Ptr json() const;
};

using HttpFields = std::map<std::string, std::string>;

// One request on a fresh connection, no redirect followed. A connection closed without an answer throws
// Poco::Net::NoMessageException; a timeout throws Poco::TimeoutException.
HttpReply httpGet(const std::string& url, const HttpFields& headers = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
HttpReply httpPostForm(const std::string& url, const HttpFields& form, const HttpFields& headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
HttpReply httpPostJson(const std::string& url, const std::string& json);

std::string formEncode(const HttpFields& fields);
// The decoded query parameters of a URL, e.g. of a redirect's Location.
HttpFields queryOf(const std::string& url);

}  // namespace bridge::standin::test
