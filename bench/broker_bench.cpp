// The token broker's speed (issues "Token broker", "Hostile and crowded clients"): warm-cache rate and latency at
// 32 and at 256 keep-alive connections, beside a bare Poco handler served by the same listener (and, for reference,
// by Poco's own thread-per-connection HTTPServer) in the same run, and the cold-cache storms.
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
#include <regex>
#include <thread>
#include <vector>

#include "BenchSupport.h"
#include "bridge/http/HttpListener.h"

using namespace bridge;
using namespace bridge::bench;

namespace {

constexpr int kThreads = 64;  // http.threads default
constexpr int kConnectionCounts[] = {32, 256};
constexpr int kSeconds = 5;
// Bare handler and broker alternate this many times; each keeps its best run (highest rate, lowest p99), so that a
// burst of other work on a shared machine does not decide the ratio.
constexpr int kRounds = 3;
constexpr int kOrganizations = 200;
constexpr int kUsersPerOrganization = 10;
constexpr double kThroughputTarget = 0.85;  // broker / bare handler, at least
constexpr double kTailTarget = 2.0;         // broker p99 / bare handler p99, at most

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

// The bare handler behind the listener the broker runs behind, with the same settings: what the broker costs
// beyond serving HTTP at all.
struct BareListener {
    HttpListener listener{[] {
                              HttpListener::Settings settings;
                              settings.name = "bare";
                              settings.host = "127.0.0.1";
                              settings.workers = kThreads;
                              return settings;
                          }(),
                          new TrivialFactory};
    BareListener() { listener.start(); }
    int port() const { return listener.port(); }
};

// The bare handler on Poco's own HTTPServer (a thread per open connection, as the server ran before the listener):
// for reference only. At 256 connections only 64 are served at a time, the rest wait for a thread.
struct PocoHttpServer {
    Poco::ThreadPool pool{"poco", 2, kThreads};
    std::unique_ptr<Poco::Net::HTTPServer> server;

    PocoHttpServer() {
        auto params = new Poco::Net::HTTPServerParams;
        params->setMaxThreads(kThreads);
        params->setMaxQueued(256);
        params->setKeepAlive(true);
        params->setKeepAliveTimeout(Poco::Timespan(15, 0));
        params->setMaxKeepAliveRequests(0);
        Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0), 256);
        server = std::make_unique<Poco::Net::HTTPServer>(new TrivialFactory, pool, socket, params);
        server->start();
    }
    ~PocoHttpServer() {
        server->stopAll(true);
        pool.joinAll();
    }
    int port() const { return server->port(); }
};

// wrk's "3.42ms", "850.00us", "1.02s" in milliseconds.
double milliseconds(const std::string& latency) {
    std::smatch match;
    if (!std::regex_match(latency, match, std::regex(R"(([0-9.]+)(us|ms|s|m))"))) return -1;
    const double value = std::stod(match[1]);
    if (match[2] == "us") return value / 1000;
    if (match[2] == "ms") return value;
    if (match[2] == "s") return value * 1000;
    return value * 60000;
}

// The better of two runs of one server: the higher rate and the lower p99, each with its own run's other figures.
void keepBest(WrkResult& best, const WrkResult& run) {
    if (best.requestsPerSecond == 0) {
        best = run;
        return;
    }
    if (run.requestsPerSecond > best.requestsPerSecond) {
        best.requestsPerSecond = run.requestsPerSecond;
        best.p50 = run.p50;
    }
    if (milliseconds(run.p99) < milliseconds(best.p99)) {
        best.p90 = run.p90;
        best.p99 = run.p99;
    }
    best.non2xx += run.non2xx;
    if (!run.socketErrors.empty()) best.socketErrors = run.socketErrors;
}

void printRow(const char* server, const WrkResult& result) {
    std::printf("%-34s %12.0f %10s %10s %10s %10lld  %s\n", server, result.requestsPerSecond, result.p50.c_str(),
                result.p90.c_str(), result.p99.c_str(), result.non2xx,
                result.socketErrors.empty() ? "" : ("socket errors:" + result.socketErrors).c_str());
}

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
    const std::string token = bridge.syncEngineToken();
    const std::string body = brokerBody(BenchBridge::userId(0, 0, kUsersPerOrganization));
    if (httpRequest("127.0.0.1", bridge.port(), "POST", kAccessTokenPath, token, body).status != 200) {
        std::cerr << "the broker did not answer 200 to warm up\n";
        return 1;
    }

    BareListener bare;
    PocoHttpServer poco;
    bool targetsMet = true;
    for (const int connections : kConnectionCounts) {
        std::cout << "\n== warm cache, " << connections << " keep-alive connections, wrk -t2, " << kRounds
                  << " alternating runs of " << kSeconds << " s each, the best of each kept\n";
        const WrkResult reference = runWrk(poco.port(), "/", token, body, connections, kSeconds);
        int fewestOpen = 1 << 30, mostOpen = 0;
        std::atomic<bool> sampling{false};
        std::atomic<bool> running{true};
        std::thread sampler([&] {
            while (running.load()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
                if (!sampling.load()) continue;
                const auto stats = bridge.service().connectionStats();
                fewestOpen = std::min(fewestOpen, stats.current);
                mostOpen = std::max(mostOpen, stats.current);
            }
        });
        const auto refreshesBefore = bridge.refreshCalls();
        WrkResult baseline, broker;
        for (int round = 0; round < kRounds; ++round) {
            keepBest(baseline, runWrk(bare.port(), "/", token, body, connections, kSeconds));
            std::thread startSampling([&] {
                std::this_thread::sleep_for(std::chrono::seconds(1));  // let wrk open its connections
                sampling = true;
            });
            keepBest(broker, runWrk(bridge.port(), kAccessTokenPath, token, body, connections, kSeconds));
            startSampling.join();
            sampling = false;
        }
        running = false;
        sampler.join();
        const auto warmRefreshes = bridge.refreshCalls() - refreshesBefore;

        std::printf("%-34s %12s %10s %10s %10s %10s\n", "server", "requests/s", "p50", "p90", "p99", "non-2xx");
        printRow("bare handler, bridge's listener", baseline);
        printRow("broker, warm cache", broker);
        printRow("bare handler, Poco HTTPServer", reference);
        const double throughput = broker.requestsPerSecond / baseline.requestsPerSecond;
        const double tail = milliseconds(broker.p99) / milliseconds(baseline.p99);
        const bool met = throughput >= kThroughputTarget && tail <= kTailTarget && broker.non2xx == 0;
        targetsMet = targetsMet && met;
        std::printf(
            "broker / bare: throughput %.0f%% (target: at least %.0f%%), p99 %.2fx (target: at most %.1fx): %s\n",
            100 * throughput, 100 * kThroughputTarget, tail, kTailTarget, met ? "met" : "NOT met");
        std::printf("connections open at the broker during the run: %d..%d of %d\n", fewestOpen, mostOpen, connections);
        std::printf("refreshes at Salesforce during the warm run: %lld (target: 0)\n",
                    static_cast<long long>(warmRefreshes));
    }
    std::printf("\nwarm-cache targets at %d and %d connections: %s\n", kConnectionCounts[0], kConnectionCounts[1],
                targetsMet ? "met" : "NOT met");

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
