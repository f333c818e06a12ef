// Several instances on one shared store (issue "Shared store on MySQL/MariaDB"): two `bridge serve` processes on
// one private MariaDB and one Salesforce stand-in. The warm broker rate of both at once, measured by two wrk
// processes side by side, and the cold storms spread over both instances, counted at the stand-in.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "BenchSupport.h"
#include "bridge/crypto/TokenAuthority.h"
#include "testsupport/ChildProcess.h"
#include "testsupport/MariaDbServer.h"
#include "testsupport/StandinProcess.h"

using namespace bridge;
using namespace bridge::bench;
using testsupport::ChildProcess;
using testsupport::MariaDbServer;
using testsupport::StandinProcess;

namespace {

constexpr int kOrganizations = 32;  // at most the stand-in's 32 request threads refresh at once in the spread storm
constexpr int kUsersPerOrganization = 10;
constexpr int kConnectionsPerInstance = 32;
constexpr int kSeconds = 10;
constexpr int kStormRequests = 1000;
constexpr int kStormConnectionsPerInstance = 50;
constexpr int kSpreadStormRequests = 2000;
const std::string kJwtSecret = "fleet-bench-admin-signing-secret-of-40-bytes";
const std::string kCryptoKeys = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

Poco::JSON::Object::Ptr jsonOf(const HttpAnswer& answer) {
    return Poco::JSON::Parser().parse(answer.body).extract<Poco::JSON::Object::Ptr>();
}

HttpAnswer expectStatus(const HttpAnswer& answer, int status, const std::string& what) {
    if (answer.status != status) {
        throw std::runtime_error(what + ": " + std::to_string(answer.status) + " " + answer.body);
    }
    return answer;
}

int freeLoopbackPort() {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    return probe.address().port();
}

// One `bridge serve` process on a port chosen here: it logs warnings only, so that logging every request does not
// become what is measured.
class BridgeInstance {
public:
    explicit BridgeInstance(std::map<std::string, std::string> environment) : port_(freeLoopbackPort()) {
        environment["BRIDGE_HTTP_PORT"] = std::to_string(port_);
        environment["BRIDGE_LOG_LEVEL"] = "warn";
        process_ = std::make_unique<ChildProcess>(testsupport::ChildProcessOptions{.executable = BRIDGE_EXECUTABLE,
                                                                                   .arguments = {"serve"},
                                                                                   .environment = environment,
                                                                                   .captureStderr = true});
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (true) {
            try {
                if (httpRequest("127.0.0.1", port_, "GET", "/readyz", "", "").status == 200) return;
            } catch (const Poco::Exception&) {
                // not listening yet
            }
            if (!process_->running() || std::chrono::steady_clock::now() > deadline) {
                throw std::runtime_error("bridge serve did not become ready:\n" + process_->output());
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }

    int port() const { return port_; }

private:
    int port_;
    std::unique_ptr<ChildProcess> process_;
};

struct Fleet {
    MariaDbServer database{MariaDbServer::Options{.bufferPoolMegabytes = 128, .redoLogMegabytes = 64}};
    StandinProcess salesforce;
    std::vector<std::unique_ptr<BridgeInstance>> instances;
    TokenAuthority authority{kJwtSecret};

    Fleet() {
        database.createDatabase("bridge");
        database.createUser("bridge", "bridge_pw", "bridge");
        const std::map<std::string, std::string> environment{
            {"BRIDGE_STORE_DSN", database.dsn("bridge", "bridge", "bridge_pw")},
            {"BRIDGE_CRYPTO_KEYS", kCryptoKeys},
            {"BRIDGE_ADMIN_JWTSECRET", kJwtSecret},
            {"BRIDGE_SALESFORCE_CLIENTID", salesforce.clientId()},
            {"BRIDGE_SALESFORCE_CLIENTSECRET", salesforce.clientSecret()},
            {"BRIDGE_SALESFORCE_LOGINURL_PRODUCTION", salesforce.baseUrl()},
            {"BRIDGE_SALESFORCE_LOGINURL_SANDBOX", salesforce.baseUrl()},
            {"BRIDGE_SALESFORCE_CALLBACKURL", "http://bridge.example/oauth/salesforce/callback"},
            {"BRIDGE_PANEL_LEGACY_RETURNURL", "https://legacy.example/sf"},
            {"BRIDGE_PANEL_MODERN_RETURNURL", "https://modern.example/crm"},
        };
        instances.push_back(std::make_unique<BridgeInstance>(environment));
        instances.push_back(std::make_unique<BridgeInstance>(environment));
    }

    int port(std::size_t instance) const { return instances[instance]->port(); }
    std::string supportToken() const {
        return authority.issue({"bench-support", Role::Support, {}}, std::chrono::hours(2));
    }
    std::string syncEngineToken() const {
        return authority.issue({"bench-sync", Role::SyncEngine, {}}, std::chrono::hours(2));
    }
};

// An organization with its users, created through the new panel on one instance and connected through the legacy
// panel with a login started on that instance and finished on the other. Returns the users' legacy ids.
std::vector<std::int64_t> connectedOrganization(Fleet& fleet, int index) {
    const std::string support = fleet.supportToken();
    const int start = fleet.port(static_cast<std::size_t>(index % 2));
    const int finish = fleet.port(static_cast<std::size_t>((index + 1) % 2));
    const auto profile = jsonOf(expectStatus(httpRequest("127.0.0.1", start, "POST", "/api/v2/profiles", support,
                                                         R"({"name": "Fleet bench )" + std::to_string(index) + R"("})"),
                                             201, "creating a profile"));
    const std::string profileId = profile->getValue<std::string>("id");
    const std::int64_t orgId = profile->getValue<std::int64_t>("legacyOrgId");
    std::vector<std::int64_t> users;
    for (int user = 0; user < kUsersPerOrganization; ++user) {
        const std::string body = R"({"email": "user)" + std::to_string(user) + "@org" + std::to_string(orgId) +
                                 R"(.example", "displayName": "User )" + std::to_string(user) + R"("})";
        const auto created = jsonOf(expectStatus(
            httpRequest("127.0.0.1", finish, "POST", "/api/v2/profiles/" + profileId + "/users", support, body), 201,
            "creating a user"));
        users.push_back(created->getValue<std::int64_t>("legacyUserId"));
    }

    // Each organization logs in as a Salesforce org of its own, so that refreshes can be told apart.
    char userId[16];
    char organizationId[16];
    std::snprintf(userId, sizeof userId, "005%012lld", static_cast<long long>(orgId));
    std::snprintf(organizationId, sizeof organizationId, "00D%012lld", static_cast<long long>(orgId));
    fleet.salesforce.setIdentity({.userId = userId,
                                  .organizationId = organizationId,
                                  .username = "svc@org" + std::to_string(orgId) + ".example",
                                  .email = "svc@org" + std::to_string(orgId) + ".example"});
    const std::string connectivity = "/legacy/api/organizations/" + std::to_string(orgId) + "/salesforce-connectivity";
    expectStatus(httpRequest("127.0.0.1", start, "PUT", connectivity, support, R"({"loginUsingServiceAccount": true})"),
                 200, "switching the toggle on");
    const auto started = jsonOf(expectStatus(
        httpRequest("127.0.0.1", start, "POST", connectivity + "/connect", support, R"({"environment": "production"})"),
        200, "starting a login"));
    const std::string callback =
        fleet.salesforce.followAuthorization(started->getObject("data")->getValue<std::string>("authorizationUrl"));
    const HttpAnswer finished = httpRequest("127.0.0.1", finish, "GET", Poco::URI(callback).getPathAndQuery(), "", "");
    if (finished.location.find("connectivity=connected") == std::string::npos) {
        throw std::runtime_error("login of organization " + std::to_string(orgId) + " failed: " + finished.location);
    }
    return users;
}

// The next request for any of these organizations refreshes: the stored token and both instances' copies go.
void invalidate(const Fleet& fleet, const std::string& token, const std::vector<std::vector<std::int64_t>>& users) {
    for (const auto& organization : users) {
        for (std::size_t instance = 0; instance < fleet.instances.size(); ++instance) {
            expectStatus(httpRequest("127.0.0.1", fleet.port(instance), "POST", kAccessTokenPath + "/invalidate", token,
                                     R"({"legacyUserId": )" + std::to_string(organization.front()) + "}"),
                         204, "invalidating");
        }
    }
}

// A counter of the instance's /metrics, e.g. `bridge_broker_requests_total{outcome="granted"}`; 0 when it has none
// yet.
double metricValue(int port, const std::string& series) {
    const HttpAnswer metrics = expectStatus(httpRequest("127.0.0.1", port, "GET", "/metrics", "", ""), 200, "metrics");
    const std::string line = "\n" + series + " ";
    const auto at = metrics.body.find(line);
    return at == std::string::npos ? 0 : std::stod(metrics.body.substr(at + line.size()));
}

// The store reads of the access-token invalidations: the follower's in the background, and the grants' own (none
// while the instance follows them, see TokenBroker).
constexpr const char* kFollowerReads = "bridge_broker_invalidation_reads_total{by=\"follower\"}";
constexpr const char* kGrantReads = "bridge_broker_invalidation_reads_total{by=\"grant\"}";

// `requests` broker requests for the given users from `connectionsPerInstance` keep-alive connections to each
// instance at once.
StormOutcome storm(const Fleet& fleet, const std::string& token, const std::vector<std::int64_t>& users,
                   int connectionsPerInstance, int requests) {
    std::vector<int> ports;
    for (std::size_t instance = 0; instance < fleet.instances.size(); ++instance) ports.push_back(fleet.port(instance));
    return brokerStorm(ports, token, users, connectionsPerInstance, requests);
}

}  // namespace

int main() {
    std::cout << "setting up: a private MariaDB, the stand-in, two bridge serve processes, " << kOrganizations
              << " organizations connected through the real OAuth round trip...\n"
              << std::flush;
    Fleet fleet;
    std::vector<std::vector<std::int64_t>> users;
    for (int organization = 0; organization < kOrganizations; ++organization) {
        users.push_back(connectedOrganization(fleet, organization));
    }
    const std::string token = fleet.syncEngineToken();
    // Every organization's first token, minted once, before anything is measured.
    for (std::size_t organization = 0; organization < users.size(); ++organization) {
        expectStatus(httpRequest("127.0.0.1", fleet.port(organization % 2), "POST", kAccessTokenPath, token,
                                 brokerBody(users[organization].front())),
                     200, "warming up");
    }

    std::printf("\n== warm broker: wrk -t2 -c%d -d%ds against each instance at once (one organization each)\n",
                kConnectionsPerInstance, kSeconds);
    const std::int64_t refreshesBeforeWarm = fleet.salesforce.counter("refreshCalls");
    std::vector<double> followerReadsBefore;
    std::vector<double> grantReadsBefore;
    for (std::size_t instance = 0; instance < fleet.instances.size(); ++instance) {
        followerReadsBefore.push_back(metricValue(fleet.port(instance), kFollowerReads));
        grantReadsBefore.push_back(metricValue(fleet.port(instance), kGrantReads));
    }
    std::vector<WrkResult> results(fleet.instances.size());
    std::vector<std::thread> wrks;
    for (std::size_t instance = 0; instance < fleet.instances.size(); ++instance) {
        wrks.emplace_back([&, instance] {
            results[instance] = runWrk(fleet.port(instance), kAccessTokenPath, token,
                                       brokerBody(users[instance].front()), kConnectionsPerInstance, kSeconds);
        });
    }
    for (auto& wrk : wrks) wrk.join();
    const std::int64_t warmRefreshes = fleet.salesforce.counter("refreshCalls") - refreshesBeforeWarm;

    std::printf("%-10s %12s %10s %10s %10s %16s %14s %s\n", "instance", "requests/s", "p50", "p99", "non-2xx",
                "follower reads/s", "grant reads/s", "socket errors");
    double summedRate = 0;
    for (std::size_t instance = 0; instance < results.size(); ++instance) {
        const WrkResult& result = results[instance];
        summedRate += result.requestsPerSecond;
        const double followerReads = metricValue(fleet.port(instance), kFollowerReads) - followerReadsBefore[instance];
        const double grantReads = metricValue(fleet.port(instance), kGrantReads) - grantReadsBefore[instance];
        std::printf("%-10s %12.0f %10s %10s %10lld %16.0f %14.0f %s\n", instance == 0 ? "A" : "B",
                    result.requestsPerSecond, result.p50.c_str(), result.p99.c_str(), result.non2xx,
                    followerReads / kSeconds, grantReads / kSeconds,
                    result.socketErrors.empty() ? "none" : result.socketErrors.c_str());
    }
    std::printf("%-10s %12.0f\n", "A + B", summedRate);
    std::printf("refreshes at Salesforce during the warm run: %lld (target: 0)\n",
                static_cast<long long>(warmRefreshes));

    // The wait moved from every grant to the invalidate call: it returns once every following instance applied it.
    constexpr int kInvalidations = 40;
    std::printf("\n== invalidate: %d calls, alternating between the instances\n", kInvalidations);
    std::vector<double> invalidateMs;
    for (int call = 0; call < kInvalidations; ++call) {
        const auto started = std::chrono::steady_clock::now();
        expectStatus(httpRequest("127.0.0.1", fleet.port(call % 2), "POST", kAccessTokenPath + "/invalidate", token,
                                 R"({"legacyUserId": )" + std::to_string(users[call % users.size()].front()) + "}"),
                     204, "invalidating");
        invalidateMs.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    }
    std::sort(invalidateMs.begin(), invalidateMs.end());
    std::printf("invalidate latency: median %.1f ms, max %.1f ms (the followers poll every 10 ms)\n",
                invalidateMs[invalidateMs.size() / 2], invalidateMs.back());

    std::printf("\n== cold storms over both instances, %d keep-alive connections to each\n",
                kStormConnectionsPerInstance);
    invalidate(fleet, token, {users.front()});
    std::int64_t before = fleet.salesforce.counter("refreshCalls");
    StormOutcome outcome = storm(fleet, token, users.front(), kStormConnectionsPerInstance, kStormRequests);
    std::printf("%d requests, 1 organization: %lld refreshes (target: 1), %d failed, %.2f s\n", kStormRequests,
                static_cast<long long>(fleet.salesforce.counter("refreshCalls") - before), outcome.failures,
                outcome.seconds);

    invalidate(fleet, token, users);
    before = fleet.salesforce.counter("refreshCalls");
    std::vector<std::int64_t> oneUserPerOrganization;
    for (const auto& organization : users) oneUserPerOrganization.push_back(organization[1]);
    outcome = storm(fleet, token, oneUserPerOrganization, kStormConnectionsPerInstance, kSpreadStormRequests);
    std::printf("%d requests, %d organizations: %lld refreshes (target: %d), %d failed, %.2f s\n", kSpreadStormRequests,
                kOrganizations, static_cast<long long>(fleet.salesforce.counter("refreshCalls") - before),
                kOrganizations, outcome.failures, outcome.seconds);
    return 0;
}
