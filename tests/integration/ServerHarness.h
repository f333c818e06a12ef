#pragma once

#include <Poco/JSON/Object.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/BridgeService.h"
#include "bridge/base/Config.h"
#include "testsupport/StandinProcess.h"

namespace bridge::testing {

struct HttpResult {
    int status = 0;
    std::map<std::string, std::string> headers;
    std::string body;

    Poco::JSON::Object::Ptr json() const;
    std::string header(const std::string& name) const;
};

// Plain HTTP/1.1 calls to a server on loopback, one connection per call unless a session is reused.
HttpResult httpCall(int port, const std::string& method, const std::string& pathAndQuery, const std::string& token = {},
                    const std::string& body = {}, const std::map<std::string, std::string>& headers = {});
// GET of an absolute http:// URL without following redirects.
HttpResult httpGetUrl(const std::string& url);

// A whole bridge server in-process on an ephemeral port, over a SQLite store in a temporary directory (or the
// DSN given), wired to a Salesforce stand-in process of its own.
class ServerHarness {
public:
    struct Options {
        std::string storeDsn;  // empty: a fresh SQLite file
        std::string legacyReturnUrl;
        std::string modernReturnUrl;
        int salesforceTimeoutMs = 2000;
        int threads = 16;
        // Background refresh of connections idle this long (salesforce.keepAliveSeconds); nullopt: the default.
        std::optional<int> keepAliveSeconds{};
        // crypto.keys; empty: a random key of its own. Given, so that tokens that another process (the migrator)
        // sealed into the same store can be opened.
        std::string cryptoKeys{};
        // The listener's deadlines (http.headTimeoutSeconds, http.bodyTimeoutSeconds, http.keepAliveSeconds).
        int headTimeoutSeconds = 10;
        int bodyTimeoutSeconds = 10;
        int idleSeconds = 15;
        // http.internalPort (0: an ephemeral one) and http.internalThreads; nullopt: /internal/v1 on port().
        std::optional<int> internalPort{};
        int internalThreads = 4;
        // notify.*: the webhook (absent: none).
        std::optional<NotifyConfig> notify{};
    };

    ServerHarness();
    explicit ServerHarness(Options options);
    ~ServerHarness();

    int port() const { return service_->port(); }
    int internalPort() const { return service_->internalPort(); }
    app::BridgeService& service() { return *service_; }
    Store& store() { return service_->store(); }
    testsupport::StandinProcess& salesforce() { return *salesforce_; }
    const Config& config() const { return config_; }

    std::string supportToken() const;
    std::string orgAdminToken(std::vector<std::int64_t> organizations) const;
    std::string syncEngineToken() const;

    HttpResult call(const std::string& method, const std::string& pathAndQuery, const std::string& token,
                    const std::string& body = {}) const {
        return httpCall(port(), method, pathAndQuery, token, body);
    }

    // Seeds an organization with users as the migrator lands them (legacy ids kept).
    Organization seedOrganization(std::int64_t legacyId, const std::string& name, int users, std::int64_t firstUserId);

private:
    std::string directory_;
    Config config_;
    std::unique_ptr<testsupport::StandinProcess> salesforce_;
    std::unique_ptr<app::BridgeService> service_;
};

}  // namespace bridge::testing
