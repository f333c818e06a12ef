// The token broker's speed (issue "Token broker"): warm-cache rate and latency over 32 keep-alive connections,
// beside a trivial Poco handler with the same server settings in the same run, and the cold-cache storms.
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/NullStream.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>
#include <vector>

#include "BenchSupport.h"

using namespace bridge;
using namespace bridge::bench;

namespace {

constexpr int kThreads = 64;  // http.threads default: more than the 32 connections, so none waits for a thread
constexpr int kConnections = 32;
constexpr int kSeconds = 10;
constexpr int kOrganizations = 200;
constexpr int kUsersPerOrganization = 10;

// What any Poco HTTP server must do at least: read the body, answer a small JSON document.
class TrivialHandler : public Poco::Net::HTTPRequestHandler {
public:
    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
        Poco::NullOutputStream discard;
        Poco::StreamCopier::copyStream(request.stream(), discard);
        static const std::string body = R"({"ok":true})";
        response.setContentType("application/json");
        response.setContentLength(static_cast<std::streamsize>(body.size()));
        response.send() << body;
    }
};

class TrivialFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
        return new TrivialHandler;
    }
};

struct TrivialServer {
    Poco::ThreadPool pool{"trivial", 2, kThreads};
    std::unique_ptr<Poco::Net::HTTPServer> server;

    TrivialServer() {
        auto params = new Poco::Net::HTTPServerParams;  // the same settings ApiServer applies
        params->setMaxThreads(kThreads);
        params->setMaxQueued(256);
        params->setKeepAlive(true);
        params->setKeepAliveTimeout(Poco::Timespan(15, 0));
        params->setMaxKeepAliveRequests(0);
        Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0), 256);
        server = std::make_unique<Poco::Net::HTTPServer>(new TrivialFactory, pool, socket, params);
        server->start();
    }
    ~TrivialServer() {
        server->stopAll(true);
        pool.joinAll();
    }
    int port() const { return server->port(); }
};

void invalidateAll(BenchBridge& bridge, const std::string& token, int organizations) {
    for (int org = 0; org < organizations; ++org) {
        const std::string body =
            R"({"legacyUserId": )" + std::to_string(BenchBridge::userId(org, 0, kUsersPerOrganization)) + "}";
        httpRequest("127.0.0.1", bridge.port(), "POST", kAccessTokenPath + "/invalidate", token, body);
    }
}

}  // namespace

int main() {
    std::cout << "setting up: " << kOrganizations << " organizations connected through the stand-in...\n" << std::flush;
    BenchBridge bridge(kThreads, kOrganizations, kUsersPerOrganization);
    TrivialServer trivial;
    const std::string token = bridge.syncEngineToken();
    const std::string body = brokerBody(BenchBridge::userId(0, 0, kUsersPerOrganization));
    if (httpRequest("127.0.0.1", bridge.port(), "POST", kAccessTokenPath, token, body).status != 200) {
        std::cerr << "the broker did not answer 200 to warm up\n";
        return 1;
    }

    std::cout << "\n== warm cache, " << kConnections << " keep-alive connections, " << kSeconds << " s each, wrk -t2\n";
    const WrkResult baseline = runWrk(trivial.port(), "/", token, body, kConnections, kSeconds);

    std::atomic<bool> sampling{true};
    int fewestOpen = 1 << 30, mostOpen = 0, mostQueued = 0;
    std::thread sampler([&] {
        std::this_thread::sleep_for(std::chrono::seconds(1));  // let wrk open its connections
        while (sampling.load()) {
            const auto stats = bridge.service().connectionStats();
            fewestOpen = std::min(fewestOpen, stats.current);
            mostOpen = std::max(mostOpen, stats.current);
            mostQueued = std::max(mostQueued, stats.queued);
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    });
    const auto refreshesBefore = bridge.refreshCalls();
    const WrkResult broker = runWrk(bridge.port(), kAccessTokenPath, token, body, kConnections, kSeconds);
    sampling = false;
    sampler.join();
    const auto warmRefreshes = bridge.refreshCalls() - refreshesBefore;

    std::printf("%-28s %12s %10s %10s %10s %10s\n", "server", "requests/s", "p50", "p90", "p99", "non-2xx");
    std::printf("%-28s %12.0f %10s %10s %10s %10lld\n", "trivial Poco handler", baseline.requestsPerSecond,
                baseline.p50.c_str(), baseline.p90.c_str(), baseline.p99.c_str(), baseline.non2xx);
    std::printf("%-28s %12.0f %10s %10s %10s %10lld\n", "broker, warm cache", broker.requestsPerSecond,
                broker.p50.c_str(), broker.p90.c_str(), broker.p99.c_str(), broker.non2xx);
    std::printf("broker / trivial: %.0f%% (target: at least 50%%)\n",
                100.0 * broker.requestsPerSecond / baseline.requestsPerSecond);
    std::printf("connections open at the broker during the run: %d..%d of %d; most waiting for a thread: %d\n",
                fewestOpen, mostOpen, kConnections, mostQueued);
    std::printf("socket errors: trivial [%s], broker [%s]\n",
                baseline.socketErrors.empty() ? "none" : baseline.socketErrors.c_str(),
                broker.socketErrors.empty() ? "none" : broker.socketErrors.c_str());
    std::printf("refreshes at Salesforce during the warm run: %lld (target: 0)\n",
                static_cast<long long>(warmRefreshes));

    std::cout << "\n== cold-cache storms\n";
    invalidateAll(bridge, token, 1);
    auto before = bridge.refreshCalls();
    std::vector<std::int64_t> oneOrganization;
    for (int index = 0; index < kUsersPerOrganization; ++index) {
        oneOrganization.push_back(BenchBridge::userId(0, index, kUsersPerOrganization));
    }
    int failures = brokerStorm({bridge.port()}, token, oneOrganization, 100, 1000).failures;
    std::printf("1000 requests, 1 organization, 100 connections: %lld refreshes (target: 1), %d failed\n",
                static_cast<long long>(bridge.refreshCalls() - before), failures);

    invalidateAll(bridge, token, kOrganizations);
    before = bridge.refreshCalls();
    std::vector<std::int64_t> spread;
    for (int org = 0; org < kOrganizations; ++org) spread.push_back(BenchBridge::userId(org, 1, kUsersPerOrganization));
    failures = brokerStorm({bridge.port()}, token, spread, 100, 2000).failures;
    std::printf("2000 requests, %d organizations, 100 connections: %lld refreshes (target: %d), %d failed\n",
                kOrganizations, static_cast<long long>(bridge.refreshCalls() - before), kOrganizations, failures);
    return 0;
}
