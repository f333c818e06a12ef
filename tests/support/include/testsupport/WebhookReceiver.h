#pragma once

#include <Poco/JSON/Object.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace Poco::Net {
class HTTPServer;
}

namespace bridge::testsupport {

// A webhook receiver as a customer would write one, on a loopback port (Poco's HTTPServer): it checks every
// request's X-Bridge-Signature (HMAC-SHA256 of the body under the shared secret, compared in constant time) and
// X-Bridge-Timestamp (equal to the body's sentAt, at most 5 minutes old), records it, and answers as told:
// acknowledge (204), fail (500), or hang (hold the request, answering nothing, until told otherwise or destroyed).
// A request whose signature or timestamp does not check out is answered 401 and recorded as such.
class WebhookReceiver {
public:
    enum class Mode { Acknowledge, Fail, Hang };

    struct Request {
        std::string body;
        Poco::JSON::Object::Ptr json;  // null when the body is not a JSON object
        std::string id;                // the body's id
        std::string type;
        bool authentic = false;  // signature and timestamp checked out
        bool acknowledged = false;
        std::chrono::steady_clock::time_point at;
    };

    explicit WebhookReceiver(std::string secret);
    ~WebhookReceiver();
    WebhookReceiver(const WebhookReceiver&) = delete;
    WebhookReceiver& operator=(const WebhookReceiver&) = delete;

    int port() const;
    std::string url() const;  // http://127.0.0.1:PORT/hooks/bridge
    void setMode(Mode mode);

    std::vector<Request> requests() const;
    std::vector<Request> acknowledged() const;
    // Waits until at least `count` requests were acknowledged (or received) or the timeout passes; returns them.
    std::vector<Request> waitForAcknowledged(std::size_t count, std::chrono::milliseconds timeout) const;
    std::vector<Request> waitForRequests(std::size_t count, std::chrono::milliseconds timeout) const;
    void clear();

    // How the receiver answers one request; public for its request handler.
    int handle(const std::string& body, const std::string& signature, const std::string& timestamp);

private:
    const std::string secret_;
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    Mode mode_ = Mode::Acknowledge;
    bool stopping_ = false;
    std::vector<Request> requests_;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace bridge::testsupport
