#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>

namespace bridge::standin {

// What the endpoints read from one HTTP request, independent of Poco's request classes.
struct StandinRequest {
    std::string method;
    std::string path;
    std::string rawQuery;
    std::string host;  // the Host header as the client sent it, or the server's own address without one
    std::map<std::string, std::string> parameters;  // query and form-encoded body; the body wins
    std::optional<std::pair<std::string, std::string>> basicCredentials;
    std::string bearerToken;
    std::string accept;  // the Accept header: a browser's text/html gets the login page
    std::string body;

    std::string parameter(const std::string& name) const {
        auto found = parameters.find(name);
        return found == parameters.end() ? std::string() : found->second;
    }
};

}  // namespace bridge::standin
