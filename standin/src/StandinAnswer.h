#pragma once

#include <Poco/JSON/Object.h>

#include <string>

namespace bridge::standin {

// What the stand-in does with a request: an HTTP response, or, for injected faults, no response at all.
struct StandinAnswer {
    enum class Disposition {
        Respond,
        Drop,          // close the connection without any response
        HangThenDrop,  // say nothing for hangMs (less if the server stops), then close the connection
    };

    Disposition disposition = Disposition::Respond;
    int status = 200;
    std::string contentType;
    std::string body;
    std::string location;
    int hangMs = 0;

    static StandinAnswer json(int status, const Poco::JSON::Object& body);
    static StandinAnswer oauthError(int status, const std::string& error, const std::string& description);
    static StandinAnswer html(int status, const std::string& title, const std::string& message);
    static StandinAnswer text(int status, std::string body);
    static StandinAnswer redirect(std::string location);
    static StandinAnswer drop();
    static StandinAnswer hangThenDrop(int hangMs);
};

}  // namespace bridge::standin
