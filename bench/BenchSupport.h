#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/BridgeService.h"
#include "standin/StandinServer.h"

namespace bridge::bench {

// A bridge server in-process over a SQLite store in a temporary directory, wired to an embedded Salesforce
// stand-in, with organizations seeded and connected through the real OAuth round trip.
class BenchBridge {
public:
    BenchBridge(int threads, int organizations, int usersPerOrganization);
    ~BenchBridge();

    int port() const { return service_->port(); }
    app::BridgeService& service() { return *service_; }
    standin::StandinServer& salesforce() { return *salesforce_; }
    std::string syncEngineToken() const;
    // The legacy id of user `index` (0-based) of organization `organization` (0-based).
    static std::int64_t userId(int organization, int index, int usersPerOrganization);
    // Refresh calls the stand-in has served so far.
    std::int64_t refreshCalls() const;

private:
    void connect(std::int64_t orgId);

    std::string directory_;
    std::unique_ptr<standin::StandinServer> salesforce_;
    std::unique_ptr<app::BridgeService> service_;
    std::string adminToken_;
};

struct HttpAnswer {
    int status = 0;
    std::string body;
    std::string location;
};
HttpAnswer httpRequest(const std::string& host, int port, const std::string& method, const std::string& path,
                       const std::string& token, const std::string& body);

// The sync engine's broker call, and its body for a legacy user.
inline const std::string kAccessTokenPath = "/internal/v1/salesforce/access-token";
std::string brokerBody(std::int64_t legacyUserId);

struct StormOutcome {
    int failures = 0;  // answers other than 200; the first is printed
    double seconds = 0;
};
// `requests` broker requests for the given users, round robin, from `connectionsPerPort` keep-alive connections to
// each port at once.
StormOutcome brokerStorm(const std::vector<int>& ports, const std::string& token,
                         const std::vector<std::int64_t>& users, int connectionsPerPort, int requests);

struct WrkResult {
    double requestsPerSecond = 0;
    std::string p50, p90, p99;
    long long requests = 0;
    std::string socketErrors;  // empty when wrk reported none
    long long non2xx = 0;
};
// Runs wrk with a Lua script that POSTs `body` with the bearer token, over `connections` keep-alive connections.
WrkResult runWrk(int port, const std::string& path, const std::string& token, const std::string& body, int connections,
                 int seconds);

}  // namespace bridge::bench
