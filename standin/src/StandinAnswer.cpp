#include "StandinAnswer.h"

#include <sstream>
#include <utility>

namespace bridge::standin {

StandinAnswer StandinAnswer::json(int status, const Poco::JSON::Object& body) {
    std::ostringstream text;
    body.stringify(text);
    StandinAnswer answer;
    answer.status = status;
    answer.contentType = "application/json;charset=UTF-8";
    answer.body = text.str();
    return answer;
}

StandinAnswer StandinAnswer::oauthError(int status, const std::string& error, const std::string& description) {
    Poco::JSON::Object body;
    body.set("error", error);
    body.set("error_description", description);
    return json(status, body);
}

StandinAnswer StandinAnswer::html(int status, const std::string& title, const std::string& message) {
    StandinAnswer answer;
    answer.status = status;
    answer.contentType = "text/html;charset=UTF-8";
    answer.body = "<!DOCTYPE html>\n<html><head><title>" + title + "</title></head><body><h1>" + title + "</h1><p>" +
                  message + "</p></body></html>\n";
    return answer;
}

StandinAnswer StandinAnswer::text(int status, std::string body) {
    StandinAnswer answer;
    answer.status = status;
    answer.contentType = "text/plain;charset=UTF-8";
    answer.body = std::move(body);
    return answer;
}

StandinAnswer StandinAnswer::redirect(std::string location) {
    StandinAnswer answer;
    answer.status = 302;
    answer.location = std::move(location);
    return answer;
}

StandinAnswer StandinAnswer::drop() {
    StandinAnswer answer;
    answer.disposition = Disposition::Drop;
    return answer;
}

StandinAnswer StandinAnswer::hangThenDrop(int hangMs) {
    StandinAnswer answer;
    answer.disposition = Disposition::HangThenDrop;
    answer.hangMs = hangMs;
    return answer;
}

}  // namespace bridge::standin
