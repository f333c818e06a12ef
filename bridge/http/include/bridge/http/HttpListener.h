#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace bridge {

// One listening port. Poco's HTTPServer holds a thread per open connection for as long as it is open, so a few
// idle keep-alive or slowly dripping clients use up every thread. Here one reactor thread (epoll) holds every
// connection that is not being answered: it accepts, waits for a complete request head (peeking, so the bytes stay
// in the kernel for Poco's parser), and only then hands the connection to one of a fixed set of workers, which
// parses and answers that request with Poco's HTTP classes and hands the connection back. Deadlines: the head
// within `headTimeout` of the connection's first byte (or of its opening), the body within `bodyTimeout` of the
// head, the next request's first byte within `idleTimeout`; past one the connection is closed.
class HttpListener {
public:
    struct Settings {
        std::string name = "http";  // names the threads and log lines
        std::string host = "0.0.0.0";
        int port = 0;
        int workers = 64;
        int backlog = 256;
        int maxConnections = 10000;
        std::chrono::milliseconds headTimeout{10000};
        std::chrono::milliseconds bodyTimeout{10000};
        std::chrono::milliseconds idleTimeout{15000};  // 0: every connection closes after one answer
    };

    struct Stats {
        int open = 0;
        int maxOpen = 0;
        std::int64_t accepted = 0;
        int waiting = 0;  // complete request heads waiting for a worker
        std::int64_t refused = 0;
        std::int64_t timedOut = 0;
    };

    // The kernel keeps the largest request head peeked at; a longer one is answered 431 and closed.
    static constexpr std::size_t kMaxHeadBytes = 32 * 1024;

    HttpListener(Settings settings, Poco::Net::HTTPRequestHandlerFactory::Ptr factory);
    ~HttpListener();
    HttpListener(const HttpListener&) = delete;
    HttpListener& operator=(const HttpListener&) = delete;

    void start();
    // Stops accepting, closes idle connections, lets every request in flight (being answered, or its head arriving
    // within its deadline and at most 2 s more) finish, then returns.
    void stop();
    int port() const { return port_; }
    Stats stats() const;

private:
    struct Connection;
    using Clock = std::chrono::steady_clock;
    struct Handback {
        std::shared_ptr<Connection> connection;
        bool keepOpen = false;
    };

    void runReactor();
    void acceptAll(Clock::time_point now);
    void onReadable(const std::shared_ptr<Connection>& connection, bool peerClosed, Clock::time_point now);
    void park(const std::shared_ptr<Connection>& connection, Clock::time_point now);
    void dispatch(const std::shared_ptr<Connection>& connection);
    void close(int fd);
    void sweep(Clock::time_point now);
    void takeHandbacks(Clock::time_point now);
    // Closes every connection that is not in flight; returns how many still have a head arriving.
    int closeIdle();
    void wake();

    void runWorker();
    bool serve(Connection& connection);
    bool serveOneRequest(class WorkerSession& session);
    // Whether the client's next request head is complete in the kernel within a short linger.
    bool nextHeadArrived(int fd) const;

    Settings settings_;
    Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
    Poco::Net::HTTPServerParams::Ptr params_;
    std::shared_ptr<spdlog::logger> log_;
    Poco::Net::ServerSocket listening_;
    int port_ = 0;
    int epoll_ = -1;
    int wakeup_ = -1;  // eventfd: workers and stop() wake the reactor through it

    // The reactor thread's own: every open connection by descriptor (parked or with a worker).
    std::unordered_map<int, std::shared_ptr<Connection>> connections_;
    int busy_ = 0;
    Clock::time_point acceptPausedUntil_{};
    bool acceptPaused_ = false;

    std::mutex readyMutex_;
    std::condition_variable readyCondition_;
    std::deque<std::shared_ptr<Connection>> ready_;
    bool workersStop_ = false;

    std::mutex handbackMutex_;
    std::vector<Handback> handbacks_;

    std::atomic<bool> stopping_{false};
    std::atomic<int> open_{0};
    std::atomic<int> maxOpen_{0};
    std::atomic<std::int64_t> accepted_{0};
    std::atomic<int> waiting_{0};
    std::atomic<std::int64_t> refused_{0};
    std::atomic<std::int64_t> timedOut_{0};

    std::thread reactor_;
    std::vector<std::thread> workers_;
    bool started_ = false;
    bool stopped_ = false;
};

}  // namespace bridge
