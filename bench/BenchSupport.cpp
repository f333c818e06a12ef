#include "BenchSupport.h"

#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Path.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>
#include <Poco/TemporaryFile.h>
#include <Poco/URI.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bridge/base/Logging.h"
#include "bridge/crypto/Secrets.h"

namespace bridge::bench {

std::string brokerBody(std::int64_t legacyUserId) {
    return R"({"legacyUserId": )" + std::to_string(legacyUserId) + R"(, "client": "sync"})";
}

StormOutcome brokerStorm(const std::vector<int>& ports, const std::string& token,
                         const std::vector<std::int64_t>& users, int connectionsPerPort, int requests) {
    std::atomic<int> failures{0};
    std::atomic<int> next{0};
    std::vector<std::thread> clients;
    const auto started = std::chrono::steady_clock::now();
    for (int client = 0; client < connectionsPerPort * static_cast<int>(ports.size()); ++client) {
        clients.emplace_back([&, port = ports[static_cast<std::size_t>(client) % ports.size()]] {
            Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
            session.setKeepAlive(true);
            session.setTimeout(Poco::Timespan(30, 0));
            for (int i = next.fetch_add(1); i < requests; i = next.fetch_add(1)) {
                const std::string body = brokerBody(users[static_cast<std::size_t>(i) % users.size()]);
                Poco::Net::HTTPRequest request("POST", kAccessTokenPath, Poco::Net::HTTPMessage::HTTP_1_1);
                request.setKeepAlive(true);
                request.set("Authorization", "Bearer " + token);
                request.setContentType("application/json");
                request.setContentLength(static_cast<std::streamsize>(body.size()));
                session.sendRequest(request) << body;
                Poco::Net::HTTPResponse response;
                std::string answer;
                Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
                if (response.getStatus() != 200 && failures.fetch_add(1) == 0) {
                    std::printf("first failure: %d %s\n", response.getStatus(), answer.c_str());
                }
            }
        });
    }
    for (auto& client : clients) client.join();
    return {failures.load(), std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()};
}

HttpAnswer httpRequest(const std::string& host, int port, const std::string& method, const std::string& path,
                       const std::string& token, const std::string& body) {
    Poco::Net::HTTPClientSession session(host, static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(30, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token.empty()) request.set("Authorization", "Bearer " + token);
    if (method != "GET") request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    HttpAnswer answer;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), answer.body);
    answer.status = response.getStatus();
    answer.location = response.get("Location", "");
    return answer;
}

namespace {

HttpAnswer getUrl(const std::string& url) {
    const Poco::URI uri(url);
    return httpRequest(uri.getHost(), uri.getPort(), "GET", uri.getPathAndQuery(), "", "");
}

}  // namespace

BenchBridge::BenchBridge(int threads, int organizations, int usersPerOrganization) {
    directory_ = Poco::TemporaryFile::tempName();
    Poco::File(directory_).createDirectories();
    standin::StandinOptions salesforceOptions;
    salesforceOptions.threads = 256;  // the cold storms send up to 200 concurrent refreshes
    salesforce_ = std::make_unique<standin::StandinServer>(salesforceOptions);
    salesforce_->start();

    Config config;
    config.http.port = 0;
    config.http.threads = threads;
    config.store.dsn = "sqlite:" + Poco::Path(directory_, "bench.db").toString();
    config.crypto.keys = "bench:" + base64Encode(randomBytes(32));
    config.admin.jwtSecret = base64UrlEncode(randomBytes(32));
    config.salesforce.clientId = "bridge-demo-client";
    config.salesforce.clientSecret = "bridge-demo-secret";
    config.salesforce.productionLoginUrl = salesforce_->baseUrl();
    config.salesforce.sandboxLoginUrl = salesforce_->baseUrl();
    config.salesforce.callbackUrl = "http://127.0.0.1:1/oauth/salesforce/callback";
    configureLogging(config.log);
    service_ = std::make_unique<app::BridgeService>(config);

    for (int org = 0; org < organizations; ++org) {
        MigratedOrganization migrated;
        const std::int64_t orgId = 1000 + org;
        migrated.organization = {orgId, "Bench " + std::to_string(org)};
        migrated.legacyFingerprint = "bench";
        for (int index = 0; index < usersPerOrganization; ++index) {
            User user;
            user.legacyId = userId(org, index, usersPerOrganization);
            user.orgId = orgId;
            user.email = "u" + std::to_string(user.legacyId) + "@bench.example";
            migrated.users.push_back(user);
        }
        service_->store().writeMigratedOrganization(migrated);
    }
    service_->start();
    adminToken_ = service_->authority().issue({"bench", Role::Support, {}}, std::chrono::hours(2));
    for (int org = 0; org < organizations; ++org) connect(1000 + org);
}

BenchBridge::~BenchBridge() {
    service_.reset();
    salesforce_.reset();
    Poco::File(directory_).remove(true);
}

std::int64_t BenchBridge::userId(int organization, int index, int usersPerOrganization) {
    return 100000 + static_cast<std::int64_t>(organization) * usersPerOrganization + index;
}

std::string BenchBridge::syncEngineToken() const {
    return service_->authority().issue({"bench-sync", Role::SyncEngine, {}}, std::chrono::hours(2));
}

void BenchBridge::connect(std::int64_t orgId) {
    // Each organization gets its own Salesforce org, so that the refresh counters tell organizations apart.
    char salesforceOrg[16];
    std::snprintf(salesforceOrg, sizeof salesforceOrg, "00D%012lld", static_cast<long long>(orgId));
    char serviceUser[16];
    std::snprintf(serviceUser, sizeof serviceUser, "005%012lld", static_cast<long long>(orgId));
    const std::string identity = std::string(R"({"userId":")") + serviceUser + R"(","organizationId":")" +
                                 salesforceOrg + R"(","username":"svc)" + std::to_string(orgId) + R"(@bench.example"})";
    const auto standinPort = salesforce_->port();
    if (httpRequest("127.0.0.1", standinPort, "POST", "/control/identity", "", identity).status != 200) {
        throw std::runtime_error("stand-in refused the identity");
    }
    const std::string base = "/legacy/api/organizations/" + std::to_string(orgId) + "/salesforce-connectivity";
    httpRequest("127.0.0.1", port(), "PUT", base, adminToken_, R"({"loginUsingServiceAccount": true})");
    const auto started =
        httpRequest("127.0.0.1", port(), "POST", base + "/connect", adminToken_, R"({"environment": "production"})");
    Poco::JSON::Parser parser;
    const auto url = parser.parse(started.body)
                         .extract<Poco::JSON::Object::Ptr>()
                         ->getObject("data")
                         ->getValue<std::string>("authorizationUrl");
    const auto callback = getUrl(url).location;
    const Poco::URI callbackUri(callback);
    const auto finished = httpRequest("127.0.0.1", port(), "GET", callbackUri.getPathAndQuery(), "", "");
    if (finished.location.find("connectivity=connected") == std::string::npos) {
        throw std::runtime_error("login of organization " + std::to_string(orgId) + " failed: " + finished.location);
    }
}

std::int64_t BenchBridge::refreshCalls() const {
    const auto answer = httpRequest("127.0.0.1", salesforce_->port(), "GET", "/control/counters", "", "");
    Poco::JSON::Parser parser;
    return parser.parse(answer.body).extract<Poco::JSON::Object::Ptr>()->getValue<std::int64_t>("refreshCalls");
}

WrkResult runWrk(int port, const std::string& path, const std::string& token, const std::string& body, int connections,
                 int seconds) {
    const std::string script = Poco::TemporaryFile::tempName() + ".lua";
    {
        Poco::FileOutputStream lua(script);
        lua << "wrk.method = \"POST\"\n"
            << "wrk.body = '" << body << "'\n"
            << "wrk.headers[\"Content-Type\"] = \"application/json\"\n"
            << "wrk.headers[\"Authorization\"] = \"Bearer " << token << "\"\n";
    }
    Poco::Pipe out;
    Poco::Process::Args args{"-t2",
                             "-c" + std::to_string(connections),
                             "-d" + std::to_string(seconds) + "s",
                             "--latency",
                             "-s",
                             script,
                             "http://127.0.0.1:" + std::to_string(port) + path};
    auto handle = Poco::Process::launch("wrk", args, nullptr, &out, &out);
    Poco::PipeInputStream stream(out);
    std::string text;
    Poco::StreamCopier::copyToString(stream, text);
    handle.wait();
    Poco::File(script).remove();

    WrkResult result;
    std::smatch match;
    if (std::regex_search(text, match, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) {
        result.requestsPerSecond = std::stod(match[1]);
    }
    if (std::regex_search(text, match, std::regex(R"(\n\s+50%\s+(\S+))"))) result.p50 = match[1];
    if (std::regex_search(text, match, std::regex(R"(\n\s+90%\s+(\S+))"))) result.p90 = match[1];
    if (std::regex_search(text, match, std::regex(R"(\n\s+99%\s+(\S+))"))) result.p99 = match[1];
    if (std::regex_search(text, match, std::regex(R"(([0-9]+) requests in)"))) result.requests = std::stoll(match[1]);
    if (std::regex_search(text, match, std::regex(R"(Socket errors:([^\n]*))"))) result.socketErrors = match[1];
    if (std::regex_search(text, match, std::regex(R"(Non-2xx or 3xx responses:\s+([0-9]+))"))) {
        result.non2xx = std::stoll(match[1]);
    }
    if (result.requestsPerSecond == 0) throw std::runtime_error("wrk printed no rate:\n" + text);
    return result;
}

}  // namespace bridge::bench
