#include "bridge/http/HttpListener.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <Poco/Timestamp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "RequestReadDeadline.h"
#include "bridge/base/Logging.h"

namespace bridge {

namespace {

constexpr auto kSweepEvery = std::chrono::milliseconds(100);
constexpr auto kAcceptPause = std::chrono::milliseconds(100);  // out of descriptors: let some close first
// A worker that has answered waits this long for the same client's next request before handing the connection
// back, when no other request is waiting: a busy keep-alive client then costs no trip through the reactor.
constexpr int kLingerMilliseconds = 2;
// ... and answers at most this many in a row, so that one busy client does not keep a worker to itself.
constexpr int kMaxRequestsPerTurn = 64;
// On stop, a head that has started arriving gets at most this long more to complete.
constexpr auto kStopGrace = std::chrono::seconds(2);
constexpr std::uint64_t kListenerKey = ~std::uint64_t{0};
constexpr std::uint64_t kWakeupKey = ~std::uint64_t{0} - 1;

// A request head ends at the first empty line. Poco's parser skips white space before the request line and takes a
// bare LF as a line end, so both are accepted here too.
bool headComplete(const char* data, std::size_t size) {
    std::size_t start = 0;
    while (start < size && (data[start] == '\r' || data[start] == '\n' || data[start] == ' ' || data[start] == '\t'))
        ++start;
    for (std::size_t i = start; i < size; ++i) {
        if (data[i] != '\n') continue;
        if (i + 1 < size && data[i + 1] == '\n') return true;
        if (i + 2 < size && data[i + 1] == '\r' && data[i + 2] == '\n') return true;
    }
    return false;
}

void sendBestEffort(int fd, std::string_view text) {
    // Non-blocking and once: a client that does not read a refusal is not waited for.
    [[maybe_unused]] const auto sent = ::send(fd, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace

// Poco's server session, with what the worker needs: whether the client already sent (pipelined) the next request.
class WorkerSession : public Poco::Net::HTTPServerSession {
public:
    using Poco::Net::HTTPServerSession::HTTPServerSession;
    bool hasBufferedBytes() const { return buffered() > 0; }
};

struct HttpListener::Connection {
    enum class Phase { AwaitingHead, Idle, Busy };

    explicit Connection(Poco::Net::StreamSocket accepted) : socket(std::move(accepted)), fd(socket.impl()->sockfd()) {}

    Poco::Net::StreamSocket socket;
    const int fd;
    // Only the reactor thread reads or writes these two.
    Phase phase = Phase::AwaitingHead;
    Clock::time_point deadline;  // of the head (AwaitingHead) or of the next request's first byte (Idle)
    bool headStarted = false;    // bytes of a request head have arrived: the request is in flight
    bool shutDown = false;
    // While a worker has it.
    RequestReadDeadline readDeadline;
};

RequestReadDeadline* RequestReadDeadline::of(Poco::Net::HTTPServerRequest& request) {
    auto* served = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
    if (served == nullptr) return nullptr;
    auto* const* deadline = Poco::AnyCast<RequestReadDeadline*>(&served->session().sessionData());
    return deadline != nullptr ? *deadline : nullptr;
}

HttpListener::HttpListener(Settings settings, Poco::Net::HTTPRequestHandlerFactory::Ptr factory)
    : settings_(std::move(settings)), factory_(std::move(factory)), log_(logger("http")) {
    params_ = new Poco::Net::HTTPServerParams;
    params_->setServerName("bridge");
    params_->setKeepAlive(settings_.idleTimeout.count() > 0);
    // Poco's per-receive timeout, only a backstop: the sweep enforces the body's deadline, which is shorter.
    params_->setTimeout(Poco::Timespan(
        std::chrono::duration_cast<std::chrono::microseconds>(settings_.headTimeout + settings_.bodyTimeout).count()));
    listening_.bind(Poco::Net::SocketAddress(settings_.host, static_cast<Poco::UInt16>(settings_.port)), true);
    listening_.listen(settings_.backlog);
    listening_.setBlocking(false);
    port_ = listening_.address().port();
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    wakeup_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_ < 0 || wakeup_ < 0) throw std::runtime_error(std::string("epoll: ") + std::strerror(errno));
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = kWakeupKey;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wakeup_, &event);
    event.data.u64 = kListenerKey;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, listening_.impl()->sockfd(), &event);
}

HttpListener::~HttpListener() {
    stop();
    if (wakeup_ >= 0) ::close(wakeup_);
    if (epoll_ >= 0) ::close(epoll_);
}

void HttpListener::start() {
    if (started_) return;
    started_ = true;
    // A client that goes away while it is answered must cost an EPIPE, not the process.
    std::signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < settings_.workers; ++i) workers_.emplace_back([this] { runWorker(); });
    reactor_ = std::thread([this] { runReactor(); });
}

void HttpListener::stop() {
    if (!started_ || stopped_) return;
    stopped_ = true;
    stopping_ = true;
    wake();
    reactor_.join();  // returns once no worker holds a connection
    {
        std::lock_guard lock(readyMutex_);
        workersStop_ = true;
    }
    readyCondition_.notify_all();
    for (auto& worker : workers_) worker.join();
}

HttpListener::Stats HttpListener::stats() const {
    return {open_.load(), maxOpen_.load(), accepted_.load(), waiting_.load(), refused_.load(), timedOut_.load()};
}

void HttpListener::wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(wakeup_, &one, sizeof one);
}

void HttpListener::runReactor() {
    std::vector<epoll_event> events(256);
    auto nextSweep = Clock::now() + kSweepEvery;
    bool listening = true;
    for (;;) {
        const int count =
            ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), static_cast<int>(kSweepEvery.count()));
        const auto now = Clock::now();
        for (int i = 0; i < count; ++i) {
            const auto key = events[i].data.u64;
            if (key == kWakeupKey) {
                std::uint64_t drained = 0;
                [[maybe_unused]] const auto read = ::read(wakeup_, &drained, sizeof drained);
            } else if (key == kListenerKey) {
                if (listening) acceptAll(now);
            } else {
                auto found = connections_.find(static_cast<int>(key));
                if (found != connections_.end() && found->second->phase != Connection::Phase::Busy) {
                    onReadable(found->second, (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0, now);
                }
            }
        }
        takeHandbacks(now);
        if (acceptPaused_ && now >= acceptPausedUntil_ && listening) {
            acceptPaused_ = false;
            epoll_event event{};
            event.events = EPOLLIN;
            event.data.u64 = kListenerKey;
            ::epoll_ctl(epoll_, EPOLL_CTL_ADD, listening_.impl()->sockfd(), &event);
        }
        if (now >= nextSweep) {
            sweep(now);
            nextSweep = now + kSweepEvery;
        }
        if (stopping_) {
            if (listening) {
                for (auto& [fd, connection] : connections_) {
                    if (connection->phase == Connection::Phase::AwaitingHead)
                        connection->deadline = std::min(connection->deadline, now + kStopGrace);
                }
                listening = false;
                if (!acceptPaused_) ::epoll_ctl(epoll_, EPOLL_CTL_DEL, listening_.impl()->sockfd(), nullptr);
                listening_.close();
            }
            // Requests in flight (with a worker, or their head arriving) are answered; the rest are closed.
            if (closeIdle() == 0 && busy_ == 0) break;
        }
    }
}

void HttpListener::acceptAll(Clock::time_point now) {
    const int listener = listening_.impl()->sockfd();
    for (;;) {
        const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_->warn("{}: cannot accept a connection ({}); pausing accepts briefly", settings_.name,
                           std::strerror(errno));
                ::epoll_ctl(epoll_, EPOLL_CTL_DEL, listener, nullptr);
                acceptPaused_ = true;
                acceptPausedUntil_ = now + kAcceptPause;
            }
            return;  // EAGAIN: nothing more to accept
        }
        if (static_cast<int>(connections_.size()) >= settings_.maxConnections) {
            ::close(fd);
            refused_.fetch_add(1, std::memory_order_relaxed);
            continue;
        }
        auto connection = std::make_shared<Connection>(Poco::Net::StreamSocket(new Poco::Net::StreamSocketImpl(fd)));
        connection->socket.setNoDelay(true);
        connection->socket.setSendTimeout(
            Poco::Timespan(std::chrono::duration_cast<std::chrono::microseconds>(settings_.bodyTimeout).count()));
        connection->deadline = now + settings_.headTimeout;
        connections_.emplace(fd, connection);
        accepted_.fetch_add(1, std::memory_order_relaxed);
        const int open = static_cast<int>(connections_.size());
        open_.store(open, std::memory_order_relaxed);
        if (open > maxOpen_.load(std::memory_order_relaxed)) maxOpen_.store(open, std::memory_order_relaxed);
        epoll_event event{};
        event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
        event.data.u64 = static_cast<std::uint64_t>(fd);
        ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event);
    }
}

// Edge-triggered: called when new bytes (or the end) arrived. Peeks at everything the kernel holds, up to the
// largest head accepted, and hands the connection to a worker once the head is complete.
void HttpListener::onReadable(const std::shared_ptr<Connection>& connection, bool peerClosed, Clock::time_point now) {
    static thread_local char head[kMaxHeadBytes];
    const auto peeked = ::recv(connection->fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
    if (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (peeked <= 0) {  // the client closed, or the connection failed
        close(connection->fd);
        return;
    }
    if (headComplete(head, static_cast<std::size_t>(peeked))) {
        dispatch(connection);
        return;
    }
    // The bytes peeked at stay in the kernel, so the end of the stream shows only in the event: a client that
    // left before completing its head is not waited for.
    if (peerClosed) {
        close(connection->fd);
        return;
    }
    if (static_cast<std::size_t>(peeked) == sizeof head) {
        sendBestEffort(
            connection->fd,
            "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        close(connection->fd);
        return;
    }
    connection->headStarted = true;
    if (connection->phase == Connection::Phase::Idle) {  // the first bytes of the next request: its head's clock
        connection->phase = Connection::Phase::AwaitingHead;
        connection->deadline = now + settings_.headTimeout;
    }
}

void HttpListener::dispatch(const std::shared_ptr<Connection>& connection) {
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, connection->fd, nullptr);
    connection->phase = Connection::Phase::Busy;
    connection->headStarted = false;
    connection->readDeadline.arm(Clock::now() + settings_.bodyTimeout);
    ++busy_;
    waiting_.fetch_add(1, std::memory_order_relaxed);
    {
        std::lock_guard lock(readyMutex_);
        ready_.push_back(connection);
    }
    readyCondition_.notify_one();
}

void HttpListener::park(const std::shared_ptr<Connection>& connection, Clock::time_point now) {
    connection->phase = Connection::Phase::Idle;
    connection->deadline = now + settings_.idleTimeout;
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    event.data.u64 = static_cast<std::uint64_t>(connection->fd);
    // Adding reports bytes that arrived while a worker had the connection at once.
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, connection->fd, &event);
}

void HttpListener::close(int fd) {
    auto found = connections_.find(fd);
    if (found == connections_.end()) return;
    auto connection = std::move(found->second);
    connections_.erase(found);
    if (connection->phase != Connection::Phase::Busy) ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    connection->socket.close();  // only here, so that a descriptor number is never reused while it is in the map
    open_.store(static_cast<int>(connections_.size()), std::memory_order_relaxed);
}

void HttpListener::takeHandbacks(Clock::time_point now) {
    std::vector<Handback> handbacks;
    {
        std::lock_guard lock(handbackMutex_);
        handbacks.swap(handbacks_);
    }
    for (auto& handback : handbacks) {
        --busy_;
        auto& connection = handback.connection;
        if (!handback.keepOpen || stopping_ || connection->shutDown) {
            close(connection->fd);
        } else {
            park(connection, now);
        }
    }
}

void HttpListener::sweep(Clock::time_point now) {
    std::vector<int> expired;
    for (auto& [fd, connection] : connections_) {
        if (connection->phase == Connection::Phase::Busy) {
            if (!connection->shutDown && connection->readDeadline.passed(now)) {
                // The worker is blocked reading a request that does not arrive: waking it with an end of stream
                // frees it; the connection is closed when it is handed back.
                ::shutdown(fd, SHUT_RDWR);
                connection->shutDown = true;
                timedOut_.fetch_add(1, std::memory_order_relaxed);
            }
        } else if (now >= connection->deadline) {
            if (connection->phase == Connection::Phase::AwaitingHead) timedOut_.fetch_add(1, std::memory_order_relaxed);
            expired.push_back(fd);
        }
    }
    for (int fd : expired) close(fd);
}

int HttpListener::closeIdle() {
    std::vector<int> idle;
    int arriving = 0;
    for (auto& [fd, connection] : connections_) {
        if (connection->phase == Connection::Phase::Busy) continue;
        if (connection->headStarted) {
            ++arriving;  // still bound by its head deadline
        } else {
            idle.push_back(fd);
        }
    }
    for (int fd : idle) close(fd);
    return arriving;
}

void HttpListener::runWorker() {
    for (;;) {
        std::shared_ptr<Connection> connection;
        {
            std::unique_lock lock(readyMutex_);
            readyCondition_.wait(lock, [this] { return !ready_.empty() || workersStop_; });
            if (ready_.empty()) return;
            connection = std::move(ready_.front());
            ready_.pop_front();
        }
        waiting_.fetch_sub(1, std::memory_order_relaxed);
        const bool keepOpen = serve(*connection);
        {
            std::lock_guard lock(handbackMutex_);
            handbacks_.push_back({std::move(connection), keepOpen});
        }
        wake();
    }
}

bool HttpListener::serve(Connection& connection) {
    WorkerSession session(connection.socket, params_);
    session.attachSessionData(&connection.readDeadline);
    bool keepOpen = serveOneRequest(session);
    for (int answered = 1; keepOpen && !stopping_ && answered < kMaxRequestsPerTurn; ++answered) {
        // A client that pipelined its next request has it in the session's buffer, not in the kernel; one that
        // sends it right after our answer has a complete head in the kernel: answer either here.
        if (!session.hasBufferedBytes() && !nextHeadArrived(connection.fd)) break;
        connection.readDeadline.arm(Clock::now() + settings_.headTimeout + settings_.bodyTimeout);
        keepOpen = serveOneRequest(session);
    }
    connection.readDeadline.disarm();
    session.detachSocket();  // the connection keeps its socket: the session must not close it
    return keepOpen && !stopping_;
}

bool HttpListener::nextHeadArrived(int fd) const {
    if (waiting_.load(std::memory_order_relaxed) > 0) return false;  // others wait for a worker: hand back
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, kLingerMilliseconds) <= 0 || (readable.revents & POLLIN) == 0) return false;
    static thread_local char head[kMaxHeadBytes];
    const auto peeked = ::recv(fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
    return peeked > 0 && headComplete(head, static_cast<std::size_t>(peeked));
}

bool HttpListener::serveOneRequest(WorkerSession& session) {
    try {
        Poco::Net::HTTPServerResponseImpl response(session);
        Poco::Net::HTTPServerRequestImpl request(response, session, params_.get());
        response.setDate(Poco::Timestamp());
        response.setVersion(request.getVersion());
        response.setKeepAlive(params_->getKeepAlive() && request.getKeepAlive() && !stopping_);
        std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(factory_->createRequestHandler(request));
        if (!handler) {
            response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NOT_IMPLEMENTED);
            response.setKeepAlive(false);
            response.setContentLength(0);
            response.send();
            return false;
        }
        handler->handleRequest(request, response);
        return response.sent() && response.getKeepAlive();
    } catch (const Poco::Net::NoMessageException&) {
        return false;  // closed before sending a request
    } catch (const Poco::Net::MessageException& error) {
        log_->debug("{}: malformed request: {}", settings_.name, error.displayText());
        try {
            Poco::Net::HTTPServerResponseImpl response(session);
            response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_BAD_REQUEST);
            response.setKeepAlive(false);
            response.setContentLength(0);
            response.send();
        } catch (const Poco::Exception& sendError) {
            log_->debug("{}: could not send 400: {}", settings_.name, sendError.displayText());
        }
        return false;
    } catch (const Poco::Exception& error) {
        // The client went away, or its deadline shut the socket down.
        log_->debug("{}: connection ended: {}", settings_.name, error.displayText());
        return false;
    }
}

}  // namespace bridge
