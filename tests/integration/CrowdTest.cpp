// Hostile and crowded clients (issue "Hostile and crowded clients"): a thousand open connections, most of them
// idle or dripping bytes, do not delay well-behaved clients; slow heads, slow bodies and idle connections are
// closed on time; a caller without a valid token is refused before its body is read; the sync engine's own
// listener is not delayed by a flood on the public one. Every socket is real, on loopback.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ServerHarness.h"
#include "bridge/store/PublicIds.h"

namespace bridge::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kAccessTokenPath = "/internal/v1/salesforce/access-token";
constexpr std::int64_t kOrg = 5001;
constexpr std::int64_t kFirstUser = 50010;

// The crowd needs a descriptor per client socket and per server socket: raise this process's soft limit.
void allowDescriptors(rlim_t wanted) {
    rlimit limit{};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
    if (limit.rlim_cur >= wanted) return;
    ASSERT_GE(limit.rlim_max, wanted) << "the hard open-file limit is too low for the crowd";
    limit.rlim_cur = wanted;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &limit), 0) << std::strerror(errno);
}

// A plain TCP client socket on loopback.
class ClientSocket {
public:
    explicit ClientSocket(int port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(port));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
        }
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~ClientSocket() {
        if (fd_ >= 0) ::close(fd_);
    }
    ClientSocket(ClientSocket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    ClientSocket(const ClientSocket&) = delete;
    ClientSocket& operator=(const ClientSocket&) = delete;
    ClientSocket& operator=(ClientSocket&&) = delete;

    void send(std::string_view bytes) const {
        while (!bytes.empty()) {
            const auto sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (sent <= 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
            bytes.remove_prefix(static_cast<std::size_t>(sent));
        }
    }
    // false when the server closed its end (or reset it).
    bool sendByte(char byte) const { return ::send(fd_, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1; }

    // Open when nothing arrived and the server did not close; bytes waiting count as open.
    bool open() const {
        char byte = 0;
        const auto peeked = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return peeked > 0 || (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    }

    // Reads one response with a Content-Length body (or none); empty when nothing complete came in time.
    std::string readResponse(std::chrono::milliseconds within) const {
        std::string received;
        const auto deadline = Clock::now() + within;
        for (;;) {
            const auto headEnd = received.find("\r\n\r\n");
            if (headEnd != std::string::npos) {
                std::size_t length = 0;
                const auto field = received.find("Content-Length: ");
                if (field != std::string::npos && field < headEnd) length = std::stoul(received.substr(field + 16));
                if (received.size() >= headEnd + 4 + length) return received.substr(0, headEnd + 4 + length);
            }
            if (!waitReadable(deadline)) return {};
            char buffer[4096];
            const auto got = ::recv(fd_, buffer, sizeof buffer, 0);
            if (got <= 0) return {};
            received.append(buffer, static_cast<std::size_t>(got));
        }
    }

    // Waits for the server to close; reads and drops whatever it sent before. Returns when it closed, if in time.
    std::optional<Clock::time_point> closedWithin(std::chrono::milliseconds within) const {
        const auto deadline = Clock::now() + within;
        for (;;) {
            if (!waitReadable(deadline)) return std::nullopt;
            char buffer[4096];
            const auto got = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return Clock::now();
        }
    }

private:
    bool waitReadable(Clock::time_point deadline) const {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        pollfd polled{fd_, POLLIN, 0};
        return ::poll(&polled, 1, static_cast<int>(left)) > 0;
    }

    int fd_;
};

std::string statusLineOf(const std::string& response) { return response.substr(0, response.find("\r\n")); }

std::string brokerBody(std::int64_t legacyUserId) {
    return R"({"legacyUserId": )" + std::to_string(legacyUserId) + R"(, "client": "sync"})";
}

testsupport::StandinIdentity serviceAccount() {
    return {.userId = "005000000005001",
            .organizationId = "00D000000005001",
            .username = "svc-5001@crowd.example",
            .email = "svc-5001@crowd.example"};
}

// An organization with users whose connection is established through the real login round trip, so that the
// broker has tokens to hand out.
void connectOrganization(ServerHarness& server) {
    server.seedOrganization(kOrg, "Crowded", 5, kFirstUser);
    server.salesforce().setIdentity(serviceAccount());
    const HttpResult started = server.call("POST", "/api/v2/profiles/" + profileIdFor(kOrg) + "/connectivity/crm/login",
                                           server.supportToken());
    ASSERT_EQ(started.status, 200) << started.body;
    const std::string redirect =
        server.salesforce().followAuthorization(started.json()->getValue<std::string>("authorizationUrl"));
    const HttpResult finished = server.call("GET", Poco::URI(redirect).getPathAndQuery(), "");
    ASSERT_EQ(finished.status, 302) << finished.body;
    ASSERT_EQ(finished.header("Location"), server.config().panel.modernReturnUrl + "?connectivity=connected");
}

// One well-behaved client on its own keep-alive connection: answers and their slowest time.
struct WellBehavedOutcome {
    int answers = 0;
    int notOk = 0;
    std::string firstFailure;
    std::chrono::milliseconds slowest{0};
};

WellBehavedOutcome behaveWell(int publicPort, int brokerPort,
                              const std::vector<std::pair<std::string, std::string>>& panelCalls,  // path, token
                              const std::string& syncToken, Clock::time_point until) {
    WellBehavedOutcome outcome;
    Poco::Net::HTTPClientSession panels("127.0.0.1", static_cast<Poco::UInt16>(publicPort));
    Poco::Net::HTTPClientSession broker("127.0.0.1", static_cast<Poco::UInt16>(brokerPort));
    for (auto* session : {&panels, &broker}) {
        session->setKeepAlive(true);
        session->setTimeout(Poco::Timespan(5, 0));
    }
    auto record = [&outcome](Clock::time_point started, int status, const std::string& what,
                             const std::string& answer = {}) {
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
        outcome.slowest = std::max(outcome.slowest, took);
        ++outcome.answers;
        if (status != 200) {
            if (outcome.notOk++ == 0) {
                outcome.firstFailure = what + " answered " + std::to_string(status) + ": " + answer;
            }
        }
    };
    for (std::size_t round = 0; Clock::now() < until; ++round) {
        const auto& [path, token] = panelCalls[round % panelCalls.size()];
        for (const bool toBroker : {true, false}) {
            Poco::Net::HTTPClientSession& session = toBroker ? broker : panels;
            Poco::Net::HTTPRequest request(toBroker ? "POST" : "GET", toBroker ? kAccessTokenPath : path,
                                           Poco::Net::HTTPMessage::HTTP_1_1);
            request.setKeepAlive(true);
            request.set("Authorization", "Bearer " + (toBroker ? syncToken : token));
            const std::string body = toBroker ? brokerBody(kFirstUser + static_cast<std::int64_t>(round % 5)) : "";
            if (toBroker) {
                request.setContentType("application/json");
                request.setContentLength(static_cast<std::streamsize>(body.size()));
            }
            const auto started = Clock::now();
            try {
                session.sendRequest(request) << body;
                Poco::Net::HTTPResponse response;
                std::string answer;
                Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
                record(started, response.getStatus(), request.getURI(), answer);
            } catch (const Poco::Exception& error) {
                record(started, 0, request.getURI() + " (" + error.displayText() + ")");
                session.reset();
            }
        }
    }
    return outcome;
}

const std::string kDrippedHead =
    "GET /healthz HTTP/1.1\r\nHost: crowd.example\r\nUser-Agent: one-byte-a-second\r\nAccept: */*\r\n\r\n";

TEST(CrowdTest, ThousandOpenConnectionsMostlyIdleOrDrippingDoNotDelayWellBehavedClients) {
    constexpr int kIdle = 495;
    constexpr int kDripping = 495;
    constexpr int kWellBehaved = 10;
    allowDescriptors(4096);
    ServerHarness::Options options;
    options.threads = 16;  // far fewer workers than connections: idle ones must hold none
    ServerHarness server(options);
    ASSERT_NO_FATAL_FAILURE(connectOrganization(server));

    std::vector<ClientSocket> idle;
    idle.reserve(kIdle);
    for (int i = 0; i < kIdle; ++i) {
        idle.emplace_back(server.port());
        idle.back().send("GET /healthz HTTP/1.1\r\nHost: crowd.example\r\n\r\n");
        ASSERT_EQ(statusLineOf(idle.back().readResponse(5000ms)), "HTTP/1.1 200 OK") << "idle client " << i;
    }
    std::vector<ClientSocket> dripping;
    dripping.reserve(kDripping);
    for (int i = 0; i < kDripping; ++i) {
        dripping.emplace_back(server.port());
        dripping.back().send(kDrippedHead.substr(0, 1));
    }

    // The drippers go on at one byte a second while the well-behaved clients run.
    const auto until = Clock::now() + 3500ms;
    std::atomic<int> dripFailures{0};
    std::jthread dripper([&] {
        for (std::size_t next = 1; Clock::now() < until; ++next) {
            std::this_thread::sleep_for(1s);
            for (const auto& socket : dripping) {
                if (!socket.sendByte(kDrippedHead[next])) ++dripFailures;
            }
        }
    });

    const std::string legacyPath = "/legacy/api/organizations/" + std::to_string(kOrg) + "/salesforce-connectivity";
    const std::string modernPath = "/api/v2/profiles/" + profileIdFor(kOrg) + "/connectivity";
    const std::vector<std::pair<std::string, std::string>> panelCalls{{legacyPath, server.orgAdminToken({kOrg})},
                                                                      {modernPath, server.supportToken()}};
    const std::string syncToken = server.syncEngineToken();
    std::vector<WellBehavedOutcome> outcomes(kWellBehaved);
    std::vector<std::thread> clients;
    for (int i = 0; i < kWellBehaved; ++i) {
        clients.emplace_back(
            [&, i] { outcomes[i] = behaveWell(server.port(), server.port(), panelCalls, syncToken, until); });
    }
    for (auto& client : clients) client.join();
    dripper.join();

    const auto stats = server.service().connectionStats();
    EXPECT_GE(stats.maxConcurrent, kIdle + kDripping + kWellBehaved);
    EXPECT_EQ(stats.refused, 0);
    EXPECT_EQ(stats.timedOut, 0);
    EXPECT_EQ(dripFailures.load(), 0);
    std::chrono::milliseconds slowest{0};
    int answers = 0;
    for (const auto& outcome : outcomes) {
        slowest = std::max(slowest, outcome.slowest);
        answers += outcome.answers;
    }
    std::cout << "crowd: " << stats.maxConcurrent << " connections open at most, " << answers
              << " answers to the well-behaved clients, the slowest in " << slowest.count() << " ms\n";
    for (int i = 0; i < kWellBehaved; ++i) {
        SCOPED_TRACE("well-behaved client " + std::to_string(i));
        EXPECT_GE(outcomes[i].answers, 4);
        EXPECT_EQ(outcomes[i].notOk, 0) << outcomes[i].firstFailure;
        EXPECT_LT(outcomes[i].slowest, 1000ms);
    }
    int closed = 0;
    for (const auto& socket : idle) closed += socket.open() ? 0 : 1;
    for (const auto& socket : dripping) closed += socket.open() ? 0 : 1;
    EXPECT_EQ(closed, 0) << "of the crowd's connections, closed before their deadlines";
}

TEST(CrowdTest, SlowHeadsSlowBodiesAndIdleConnectionsAreClosedOnTime) {
    ServerHarness::Options options;
    options.headTimeoutSeconds = 2;
    options.bodyTimeoutSeconds = 2;
    options.idleSeconds = 3;
    ServerHarness server(options);
    const std::string syncToken = server.syncEngineToken();

    const auto opened = Clock::now();
    const ClientSocket silent(server.port());
    const ClientSocket dripping(server.port());
    dripping.send("G");
    const ClientSocket idle(server.port());
    idle.send("GET /healthz HTTP/1.1\r\nHost: crowd.example\r\n\r\n");
    ASSERT_EQ(statusLineOf(idle.readResponse(2000ms)), "HTTP/1.1 200 OK");
    const auto idleSince = Clock::now();
    const ClientSocket slowBody(server.port());
    slowBody.send("POST " + kAccessTokenPath + " HTTP/1.1\r\nHost: crowd.example\r\nAuthorization: Bearer " +
                  syncToken + "\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"legacy");
    const auto headSent = Clock::now();

    // The dripper keeps sending a byte every half second; its head still has to be complete in 2 s.
    std::optional<Clock::time_point> drippingClosed;
    for (std::size_t next = 1; !drippingClosed && Clock::now() - opened < 5s; ++next) {
        drippingClosed = dripping.closedWithin(500ms);
        if (!drippingClosed) dripping.sendByte(kDrippedHead[next]);
    }
    const auto silentClosed = silent.closedWithin(3000ms);
    const auto slowBodyClosed = slowBody.closedWithin(3000ms);
    const auto idleClosed = idle.closedWithin(4000ms);

    ASSERT_TRUE(drippingClosed && silentClosed && slowBodyClosed && idleClosed)
        << "dripping " << drippingClosed.has_value() << ", silent " << silentClosed.has_value() << ", slow body "
        << slowBodyClosed.has_value() << ", idle " << idleClosed.has_value();
    auto between = [](Clock::time_point from, Clock::time_point to, std::chrono::milliseconds low,
                      std::chrono::milliseconds high) {
        const auto took = to - from;
        return took >= low && took <= high;
    };
    auto ms = [](Clock::duration took) { return std::chrono::duration_cast<std::chrono::milliseconds>(took).count(); };
    std::cout << "closed after: dripping head " << ms(*drippingClosed - opened) << " ms, silent "
              << ms(*silentClosed - opened) << " ms, dripping body " << ms(*slowBodyClosed - headSent) << " ms, idle "
              << ms(*idleClosed - idleSince) << " ms\n";
    EXPECT_TRUE(between(opened, *drippingClosed, 1800ms, 3000ms));
    EXPECT_TRUE(between(opened, *silentClosed, 1800ms, 3000ms));
    EXPECT_TRUE(between(headSent, *slowBodyClosed, 1800ms, 3000ms));
    EXPECT_TRUE(between(idleSince, *idleClosed, 2800ms, 4000ms));
    EXPECT_GE(server.service().connectionStats().timedOut, 3);  // the two heads and the body; idle is no fault

    // Meanwhile and afterwards the server answers as ever.
    EXPECT_EQ(server.call("GET", "/healthz", "").status, 200);
}

TEST(CrowdTest, CallerWithoutAValidTokenIsRefusedBeforeItsBodyIsRead) {
    ServerHarness server;
    for (const std::string& authorization : {std::string(), std::string("Authorization: Bearer not.a.token\r\n")}) {
        SCOPED_TRACE(authorization.empty() ? "no token" : "invalid token");
        // A declared 60,000-byte body of which nothing is sent: the answer must not wait for it.
        const ClientSocket large(server.port());
        const auto sent = Clock::now();
        large.send("POST " + kAccessTokenPath + " HTTP/1.1\r\nHost: crowd.example\r\n" + authorization +
                   "Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n");
        const std::string refused = large.readResponse(1000ms);
        EXPECT_LT(Clock::now() - sent, 1000ms);
        EXPECT_EQ(statusLineOf(refused), "HTTP/1.1 401 Unauthorized") << refused;
        EXPECT_NE(refused.find("Connection: Close"), std::string::npos) << refused;
        EXPECT_TRUE(large.closedWithin(1000ms).has_value());

        // A small body is drained, and the connection serves the next request.
        const ClientSocket small(server.port());
        const std::string body(100, ' ');
        small.send("POST " + kAccessTokenPath + " HTTP/1.1\r\nHost: crowd.example\r\n" + authorization +
                   "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n" + body);
        EXPECT_EQ(statusLineOf(small.readResponse(1000ms)), "HTTP/1.1 401 Unauthorized");
        small.send("GET /healthz HTTP/1.1\r\nHost: crowd.example\r\n\r\n");
        EXPECT_EQ(statusLineOf(small.readResponse(1000ms)), "HTTP/1.1 200 OK");
    }

    // Expect: 100-continue is answered only once the token is known good.
    const ClientSocket refusedEarly(server.port());
    refusedEarly.send("POST " + kAccessTokenPath +
                      " HTTP/1.1\r\nHost: crowd.example\r\nExpect: 100-continue\r\nContent-Length: 40\r\n\r\n");
    EXPECT_EQ(statusLineOf(refusedEarly.readResponse(1000ms)), "HTTP/1.1 401 Unauthorized");
    const ClientSocket continued(server.port());
    const std::string body = brokerBody(kFirstUser);
    continued.send("POST " + kAccessTokenPath + " HTTP/1.1\r\nHost: crowd.example\r\nAuthorization: Bearer " +
                   server.syncEngineToken() + "\r\nExpect: 100-continue\r\nContent-Type: application/json\r\n" +
                   "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    EXPECT_EQ(statusLineOf(continued.readResponse(1000ms)), "HTTP/1.1 100 Continue");
    continued.send(body);
    // No such user: what matters is that the body was read and answered.
    EXPECT_EQ(statusLineOf(continued.readResponse(2000ms)), "HTTP/1.1 404 Not Found");
}

TEST(CrowdTest, SyncEngineOnItsOwnListenerIsNotDelayedByAFloodOnThePublicOne) {
    allowDescriptors(4096);
    ServerHarness::Options options;
    options.threads = 2;
    options.bodyTimeoutSeconds = 5;  // longer than the flood's set-up and the broker loop below, on a slow machine
    options.internalPort = 0;
    options.internalThreads = 2;
    ServerHarness server(options);
    ASSERT_NE(server.internalPort(), 0);
    ASSERT_NE(server.internalPort(), server.port());
    ASSERT_NO_FATAL_FAILURE(connectOrganization(server));
    const std::string syncToken = server.syncEngineToken();

    // The broker answers on its own port only.
    EXPECT_EQ(httpCall(server.internalPort(), "POST", kAccessTokenPath, syncToken, brokerBody(kFirstUser)).status, 200);
    EXPECT_EQ(server.call("POST", kAccessTokenPath, syncToken, brokerBody(kFirstUser)).status, 404);
    EXPECT_EQ(httpCall(server.internalPort(), "GET", "/healthz").status, 404);

    // The flood: every public worker held by an admin's body that never comes, and 500 dripping heads.
    const std::string patchUser = "PATCH /api/v2/profiles/" + profileIdFor(kOrg) + "/users/" + userIdFor(kFirstUser) +
                                  " HTTP/1.1\r\nHost: crowd.example\r\nAuthorization: Bearer " + server.supportToken() +
                                  "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{";
    std::vector<ClientSocket> flood;
    for (int i = 0; i < options.threads; ++i) {
        flood.emplace_back(server.port());
        flood.back().send(patchUser);
    }
    for (int i = 0; i < 500; ++i) {
        flood.emplace_back(server.port());
        flood.back().send("G");
    }
    std::this_thread::sleep_for(200ms);  // the held requests reach the workers

    // Control: the public port is indeed flooded, a request there waits for the body deadline to free a worker.
    const ClientSocket publicControl(server.port());
    publicControl.send("GET /healthz HTTP/1.1\r\nHost: crowd.example\r\n\r\n");
    EXPECT_EQ(publicControl.readResponse(300ms), "");

    const auto until = Clock::now() + 1500ms;
    std::chrono::milliseconds slowest{0};
    int answers = 0;
    while (Clock::now() < until) {
        const auto started = Clock::now();
        EXPECT_EQ(httpCall(server.internalPort(), "POST", kAccessTokenPath, syncToken, brokerBody(kFirstUser)).status,
                  200);
        slowest = std::max(slowest, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started));
        ++answers;
    }
    EXPECT_GE(answers, 5);
    EXPECT_LT(slowest, 1000ms);

    // The public port serves again once the body deadline has freed a held worker.
    EXPECT_EQ(statusLineOf(publicControl.readResponse(std::chrono::seconds(options.bodyTimeoutSeconds + 2))),
              "HTTP/1.1 200 OK");
}

}  // namespace
}  // namespace bridge::testing
