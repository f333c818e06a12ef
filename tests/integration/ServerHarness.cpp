#include "ServerHarness.h"

#include <Poco/File.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/TemporaryFile.h>
#include <Poco/URI.h>

#include <sstream>

#include "bridge/crypto/Secrets.h"

namespace bridge::testing {

Poco::JSON::Object::Ptr HttpResult::json() const {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

std::string HttpResult::header(const std::string& name) const {
    auto found = headers.find(name);
    return found == headers.end() ? std::string() : found->second;
}

namespace {

HttpResult exchange(Poco::Net::HTTPClientSession& session, Poco::Net::HTTPRequest& request, const std::string& body) {
    session.setTimeout(Poco::Timespan(30, 0));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& stream = session.receiveResponse(response);
    HttpResult result;
    result.status = response.getStatus();
    for (const auto& [name, value] : response) result.headers[name] = value;
    Poco::StreamCopier::copyToString(stream, result.body);
    return result;
}

}  // namespace

HttpResult httpCall(int port, const std::string& method, const std::string& pathAndQuery, const std::string& token,
                    const std::string& body, const std::map<std::string, std::string>& headers) {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    Poco::Net::HTTPRequest request(method, pathAndQuery, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token.empty()) request.set("Authorization", "Bearer " + token);
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        request.setContentType("application/json");
        if (request.getChunkedTransferEncoding()) {
            request.setContentLength(Poco::Net::HTTPMessage::UNKNOWN_CONTENT_LENGTH);
        } else {
            request.setContentLength(static_cast<std::streamsize>(body.size()));
        }
    }
    return exchange(session, request, body);
}

HttpResult httpGetUrl(const std::string& url) {
    const Poco::URI uri(url);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    Poco::Net::HTTPRequest request("GET", uri.getPathAndQuery(), Poco::Net::HTTPMessage::HTTP_1_1);
    return exchange(session, request, {});
}

ServerHarness::ServerHarness() : ServerHarness(Options{}) {}

ServerHarness::ServerHarness(Options options) {
    directory_ = Poco::TemporaryFile::tempName();
    Poco::File(directory_).createDirectories();
    salesforce_ = std::make_unique<testsupport::StandinProcess>();

    config_.http.port = 0;
    config_.http.threads = options.threads;
    config_.http.headTimeoutSeconds = options.headTimeoutSeconds;
    config_.http.bodyTimeoutSeconds = options.bodyTimeoutSeconds;
    config_.http.keepAliveSeconds = options.idleSeconds;
    config_.http.internalPort = options.internalPort;
    config_.http.internalThreads = options.internalThreads;
    config_.store.dsn =
        options.storeDsn.empty() ? "sqlite:" + Poco::Path(directory_, "bridge.db").toString() : options.storeDsn;
    config_.crypto.keys = options.cryptoKeys.empty() ? "k1:" + base64Encode(randomBytes(32)) : options.cryptoKeys;
    config_.admin.jwtSecret = base64UrlEncode(randomBytes(32));
    config_.salesforce.clientId = salesforce_->clientId();
    config_.salesforce.clientSecret = salesforce_->clientSecret();
    config_.salesforce.productionLoginUrl = "http://127.0.0.1:" + std::to_string(salesforce_->port());
    config_.salesforce.sandboxLoginUrl = "http://localhost:" + std::to_string(salesforce_->port());
    config_.salesforce.timeout = std::chrono::milliseconds(options.salesforceTimeoutMs);
    if (options.keepAliveSeconds) {
        config_.salesforce.keepAliveInterval = std::chrono::seconds(*options.keepAliveSeconds);
    }
    // The callback host is only used to build the built-in return pages' URLs.
    config_.salesforce.callbackUrl = "http://127.0.0.1:1/oauth/salesforce/callback";
    config_.panel.legacyReturnUrl =
        options.legacyReturnUrl.empty() ? "https://legacy.example/sf" : options.legacyReturnUrl;
    config_.panel.modernReturnUrl =
        options.modernReturnUrl.empty() ? "https://modern.example/crm" : options.modernReturnUrl;
    if (options.notify) config_.notify = *options.notify;
    service_ = std::make_unique<app::BridgeService>(config_);
    service_->start();
}

ServerHarness::~ServerHarness() {
    service_.reset();
    salesforce_.reset();
    Poco::File(directory_).remove(true);
}

std::string ServerHarness::supportToken() const {
    return service_->authority().issue({"support-sue", Role::Support, {}}, std::chrono::hours(1));
}

std::string ServerHarness::orgAdminToken(std::vector<std::int64_t> organizations) const {
    return service_->authority().issue({"admin-ann", Role::OrgAdmin, std::move(organizations)}, std::chrono::hours(1));
}

std::string ServerHarness::syncEngineToken() const {
    return service_->authority().issue({"sync", Role::SyncEngine, {}}, std::chrono::hours(1));
}

Organization ServerHarness::seedOrganization(std::int64_t legacyId, const std::string& name, int users,
                                             std::int64_t firstUserId) {
    MigratedOrganization migrated;
    migrated.organization = {legacyId, name};
    migrated.legacyFingerprint = "seed-" + std::to_string(legacyId);
    for (int i = 0; i < users; ++i) {
        User user;
        user.legacyId = firstUserId + i;
        user.orgId = legacyId;
        user.email = "user" + std::to_string(user.legacyId) + "@org" + std::to_string(legacyId) + ".example";
        user.displayName = "User " + std::to_string(user.legacyId);
        migrated.users.push_back(user);
    }
    store().writeMigratedOrganization(migrated);
    return migrated.organization;
}

}  // namespace bridge::testing
