#include "testsupport/StandinProcess.h"

#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <sstream>
#include <stdexcept>
#include <utility>

namespace bridge::testsupport {
namespace {

constexpr int kControlTimeoutSeconds = 10;
const std::string kLoopback = "127.0.0.1";

template <typename Value>
void setIfPresent(Poco::JSON::Object& json, const std::string& key, const std::optional<Value>& value) {
    if (value) json.set(key, *value);
}

}  // namespace

StandinProcess::StandinProcess() : StandinProcess(StandinProcessOptions{}) {}

StandinProcess::StandinProcess(StandinProcessOptions options) : options_(std::move(options)) {
    process_ = std::make_unique<ChildProcess>(ChildProcessOptions{
        .executable = BRIDGE_STANDIN_EXECUTABLE,
        .arguments = {"--host", kLoopback, "--port", "0", "--client-id", options_.clientId, "--client-secret",
                      options_.clientSecret},
    });
    const std::string line = process_->waitForLine("listening on ");
    port_ = std::stoi(line.substr(std::string("listening on ").size()));
}

StandinProcess::~StandinProcess() { process_->terminate(std::chrono::seconds(5)); }

int StandinProcess::port() const { return port_; }

std::string StandinProcess::baseUrl() const { return "http://" + kLoopback + ":" + std::to_string(port_); }

const std::string& StandinProcess::clientId() const { return options_.clientId; }

const std::string& StandinProcess::clientSecret() const { return options_.clientSecret; }

ChildProcess& StandinProcess::process() { return *process_; }

Poco::JSON::Object::Ptr StandinProcess::setIdentity(const StandinIdentity& identity) {
    Poco::JSON::Object body;
    setIfPresent(body, "userId", identity.userId);
    setIfPresent(body, "organizationId", identity.organizationId);
    setIfPresent(body, "username", identity.username);
    setIfPresent(body, "email", identity.email);
    setIfPresent(body, "displayName", identity.displayName);
    setIfPresent(body, "active", identity.active);
    setIfPresent(body, "userType", identity.userType);
    return control("POST", "/control/identity", body);
}

Poco::JSON::Object::Ptr StandinProcess::identity() { return control("GET", "/control/identity"); }

void StandinProcess::setAuthorizeDecision(bool approve) {
    Poco::JSON::Object body;
    body.set("decision", approve ? "approve" : "deny");
    control("POST", "/control/authorize", body);
}

int StandinProcess::injectFault(const StandinFault& fault) {
    Poco::JSON::Object body;
    body.set("kind", fault.kind);
    body.set("count", fault.count);
    setIfPresent(body, "grant", fault.grant);
    setIfPresent(body, "hangMs", fault.hangMs);
    setIfPresent(body, "description", fault.description);
    setIfPresent(body, "status", fault.status);
    return control("POST", "/control/faults", body)->getValue<int>("queued");
}

int StandinProcess::injectFault(const std::string& kind, int count, std::optional<std::string> grant) {
    return injectFault(StandinFault{.kind = kind, .count = count, .grant = std::move(grant)});
}

int StandinProcess::expireRefreshTokens(std::optional<std::string> userId, std::optional<std::string> organizationId) {
    Poco::JSON::Object body;
    setIfPresent(body, "userId", userId);
    setIfPresent(body, "organizationId", organizationId);
    return control("POST", "/control/refresh-tokens/expire", body)->getValue<int>("expired");
}

void StandinProcess::deactivateUser(const std::string& userId) {
    Poco::JSON::Object body;
    body.set("userId", userId);
    control("POST", "/control/users/deactivate", body);
}

void StandinProcess::markPasswordChanged(const std::string& userId) {
    Poco::JSON::Object body;
    body.set("userId", userId);
    control("POST", "/control/users/password-changed", body);
}

Poco::JSON::Object::Ptr StandinProcess::settings(const StandinSettingsChange& change) {
    Poco::JSON::Object body;
    setIfPresent(body, "rotation", change.rotation);
    setIfPresent(body, "approvalLimit", change.approvalLimit);
    setIfPresent(body, "refreshDelayMs", change.refreshDelayMs);
    setIfPresent(body, "revokeRedirect", change.revokeRedirect);
    setIfPresent(body, "revokeRedirectBase", change.revokeRedirectBase);
    setIfPresent(body, "instanceUrl", change.instanceUrl);
    setIfPresent(body, "identityUrl", change.identityUrl);
    return control("POST", "/control/settings", body);
}

Poco::JSON::Object::Ptr StandinProcess::counters() { return control("GET", "/control/counters"); }

std::int64_t StandinProcess::counter(const std::string& name) { return counters()->getValue<Poco::Int64>(name); }

void StandinProcess::reset() { control("POST", "/control/reset"); }

std::string StandinProcess::followAuthorization(const std::string& authorizationUrl) {
    const Poco::URI uri(authorizationUrl);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(kControlTimeoutSeconds, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, uri.getPathAndQuery(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& body = session.receiveResponse(response);
    std::string text;
    Poco::StreamCopier::copyToString(body, text);
    if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_FOUND) {
        throw std::runtime_error("authorization answered " + std::to_string(response.getStatus()) + ": " + text);
    }
    return response.get("Location");
}

Poco::JSON::Object::Ptr StandinProcess::control(const std::string& method, const std::string& path,
                                                const Poco::JSON::Object& body) {
    Poco::Net::HTTPClientSession session(kLoopback, static_cast<Poco::UInt16>(port_));
    session.setTimeout(Poco::Timespan(kControlTimeoutSeconds, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    std::ostringstream json;
    if (method == Poco::Net::HTTPRequest::HTTP_POST) body.stringify(json);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(json.str().size()));
    session.sendRequest(request) << json.str();
    Poco::Net::HTTPResponse response;
    std::istream& answer = session.receiveResponse(response);
    std::string text;
    Poco::StreamCopier::copyToString(answer, text);
    if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) {
        throw std::runtime_error(method + " " + path + " answered " + std::to_string(response.getStatus()) + ": " +
                                 text);
    }
    return Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace bridge::testsupport
