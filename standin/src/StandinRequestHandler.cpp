#include "StandinRequestHandler.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTMLForm.h>
#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <array>
#include <stdexcept>
#include <utility>

#include "StandinControl.h"

namespace bridge::standin {
namespace {

constexpr std::size_t kMaxBodyBytes = 1024 * 1024;

class BodyTooLarge : public std::runtime_error {
public:
    BodyTooLarge() : std::runtime_error("request body over 1 MiB") {}
};

std::string readBody(std::istream& stream) {
    std::string body;
    std::array<char, 8192> buffer{};
    while (stream.read(buffer.data(), buffer.size()), stream.gcount() > 0) {
        body.append(buffer.data(), static_cast<std::size_t>(stream.gcount()));
        if (body.size() > kMaxBodyBytes) throw BodyTooLarge();
    }
    return body;
}

void addFormParameters(const std::string& encoded, std::map<std::string, std::string>& parameters) {
    if (encoded.empty()) return;
    Poco::Net::HTMLForm form;
    form.read(encoded);
    for (const auto& [name, value] : form) parameters[name] = value;
}

bool startsWith(const std::string& text, std::string_view prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

StandinRequestHandler::StandinRequestHandler(std::shared_ptr<StandinState> state, std::string ownHost)
    : state_(std::move(state)), ownHost_(std::move(ownHost)) {}

void StandinRequestHandler::handleRequest(Poco::Net::HTTPServerRequest& request,
                                          Poco::Net::HTTPServerResponse& response) {
    StandinAnswer answer;
    try {
        answer = route(read(request));
    } catch (const BodyTooLarge& error) {
        answer = StandinAnswer::oauthError(413, "invalid_request", error.what());
    } catch (const Poco::Exception& error) {  // a malformed request line, query or form
        answer = StandinAnswer::oauthError(400, "invalid_request", error.displayText());
    }
    deliver(answer, request, response);
}

StandinRequest StandinRequestHandler::read(Poco::Net::HTTPServerRequest& request) const {
    StandinRequest incoming;
    const Poco::URI uri(request.getURI());
    incoming.method = request.getMethod();
    incoming.path = uri.getPath();
    incoming.rawQuery = uri.getRawQuery();
    incoming.host = request.get(Poco::Net::HTTPRequest::HOST, ownHost_);
    incoming.accept = request.get("Accept", "");
    incoming.body = readBody(request.stream());
    addFormParameters(incoming.rawQuery, incoming.parameters);
    if (!startsWith(incoming.path, "/control/")) addFormParameters(incoming.body, incoming.parameters);

    if (request.hasCredentials()) {
        std::string scheme;
        std::string authorization;
        request.getCredentials(scheme, authorization);
        if (Poco::icompare(scheme, "Bearer") == 0) {
            incoming.bearerToken = Poco::trim(authorization);
        } else if (Poco::icompare(scheme, "Basic") == 0) {
            const Poco::Net::HTTPBasicCredentials credentials(authorization);
            incoming.basicCredentials = std::make_pair(credentials.getUsername(), credentials.getPassword());
        }
    }
    return incoming;
}

StandinAnswer StandinRequestHandler::route(const StandinRequest& request) {
    const std::string& path = request.path;
    if (path == "/services/oauth2/authorize") return state_->authorize(request);
    if (path == "/services/oauth2/token") return state_->token(request);
    if (path == "/services/oauth2/revoke") return state_->revoke(request, false);
    if (path == "/services/oauth2/revoke/redirected") return state_->revoke(request, true);
    if (startsWith(path, "/control/")) return StandinControl(*state_).handle(request);
    if (startsWith(path, "/id/")) {
        const std::string ids = path.substr(std::string_view("/id/").size());
        const std::size_t slash = ids.find('/');
        if (slash != std::string::npos && ids.find('/', slash + 1) == std::string::npos) {
            return state_->identity(request, ids.substr(0, slash), ids.substr(slash + 1));
        }
    }
    return StandinAnswer::text(404, "Not Found: " + path);
}

void StandinRequestHandler::deliver(const StandinAnswer& answer, Poco::Net::HTTPServerRequest& request,
                                    Poco::Net::HTTPServerResponse& response) {
    switch (answer.disposition) {
        case StandinAnswer::Disposition::HangThenDrop:
            state_->waitUnlessShuttingDown(std::chrono::milliseconds(answer.hangMs));
            [[fallthrough]];
        case StandinAnswer::Disposition::Drop:
            response.setKeepAlive(false);
            try {
                // Closing our side without a response is what a dropped connection looks like to the client.
                static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket().shutdown();
            } catch (const Poco::Net::NetException&) {
                // The peer or stop() closed the connection first: it is dropped either way.
            }
            return;
        case StandinAnswer::Disposition::Respond: break;
    }
    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(answer.status));
    if (!answer.contentType.empty()) response.setContentType(answer.contentType);
    if (!answer.location.empty()) response.set("Location", answer.location);
    response.set("Cache-Control", "no-store");
    response.setContentLength(static_cast<std::streamsize>(answer.body.size()));
    response.sendBuffer(answer.body.data(), answer.body.size());
}

}  // namespace bridge::standin
