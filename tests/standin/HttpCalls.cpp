#include "HttpCalls.h"

#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <sstream>

namespace bridge::standin::test {
namespace {

HttpReply exchange(const std::string& method, const std::string& url, const std::string& contentType,
                   const std::string& body, const HttpFields& headers, std::chrono::milliseconds timeout) {
    const Poco::URI uri(url);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(std::chrono::duration_cast<std::chrono::microseconds>(timeout).count()));
    Poco::Net::HTTPRequest request(method, uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : headers) request.set(name, value);
    if (method == Poco::Net::HTTPRequest::HTTP_POST) {
        request.setContentType(contentType);
        request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& answer = session.receiveResponse(response);
    HttpReply reply;
    reply.status = response.getStatus();
    reply.contentType = response.getContentType();
    reply.location = response.get("Location", "");
    Poco::StreamCopier::copyToString(answer, reply.body);
    return reply;
}

}  // namespace

Poco::JSON::Object::Ptr HttpReply::json() const {
    return Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
}

HttpReply httpGet(const std::string& url, const HttpFields& headers, std::chrono::milliseconds timeout) {
    return exchange(Poco::Net::HTTPRequest::HTTP_GET, url, "", "", headers, timeout);
}

HttpReply httpPostForm(const std::string& url, const HttpFields& form, const HttpFields& headers,
                       std::chrono::milliseconds timeout) {
    return exchange(Poco::Net::HTTPRequest::HTTP_POST, url, "application/x-www-form-urlencoded", formEncode(form),
                    headers, timeout);
}

HttpReply httpPostJson(const std::string& url, const std::string& json) {
    return exchange(Poco::Net::HTTPRequest::HTTP_POST, url, "application/json", json, {}, std::chrono::seconds(10));
}

std::string formEncode(const HttpFields& fields) {
    Poco::Net::HTMLForm form;
    for (const auto& [name, value] : fields) form.add(name, value);
    std::ostringstream encoded;
    form.write(encoded);
    return encoded.str();
}

HttpFields queryOf(const std::string& url) {
    Poco::Net::HTMLForm form;
    form.read(Poco::URI(url).getRawQuery());
    return HttpFields(form.begin(), form.end());
}

}  // namespace bridge::standin::test
