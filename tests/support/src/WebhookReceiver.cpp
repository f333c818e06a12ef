#include "testsupport/WebhookReceiver.h"

#include <Poco/DateTimeParser.h>
#include <Poco/HMACEngine.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/SHA2Engine.h>
#include <Poco/StreamCopier.h>

#include <algorithm>
#include <cstdlib>

namespace bridge::testsupport {

namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kMaximumAgeSeconds = 300;

// SHA-256's block is 64 bytes (Poco's SHA2Engine reports the block size of SHA-512 whatever the digest).
class Sha256Engine : public Poco::SHA2Engine {
public:
    enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
    Sha256Engine() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
};

bool constantTimeEqual(const std::string& left, const std::string& right) {
    if (left.size() != right.size()) return false;
    unsigned char difference = 0;
    for (std::size_t i = 0; i < left.size(); ++i) {
        difference |= static_cast<unsigned char>(left[i] ^ right[i]);
    }
    return difference == 0;
}

class Handler : public Poco::Net::HTTPRequestHandler {
public:
    explicit Handler(WebhookReceiver& receiver) : receiver_(receiver) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
        std::string body;
        Poco::StreamCopier::copyToString(request.stream(), body);
        const int status =
            receiver_.handle(body, request.get("X-Bridge-Signature", ""), request.get("X-Bridge-Timestamp", ""));
        if (status == 0) return;  // hung: the client gave up; nothing to answer
        response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
        response.setContentLength(0);
        response.send();
    }

private:
    WebhookReceiver& receiver_;
};

class HandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit HandlerFactory(WebhookReceiver& receiver) : receiver_(receiver) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
        return new Handler(receiver_);
    }

private:
    WebhookReceiver& receiver_;
};

}  // namespace

WebhookReceiver::WebhookReceiver(std::string secret) : secret_(std::move(secret)) {
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(8);
    params->setKeepAlive(false);
    server_ = std::make_unique<Poco::Net::HTTPServer>(
        new HandlerFactory(*this), Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0)), params);
    server_->start();
}

WebhookReceiver::~WebhookReceiver() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    server_->stopAll(true);
}

int WebhookReceiver::port() const { return server_->port(); }

std::string WebhookReceiver::url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/hooks/bridge"; }

void WebhookReceiver::setMode(Mode mode) {
    {
        std::lock_guard lock(mutex_);
        mode_ = mode;
    }
    changed_.notify_all();
}

int WebhookReceiver::handle(const std::string& body, const std::string& signature, const std::string& timestamp) {
    Request request;
    request.body = body;
    request.at = std::chrono::steady_clock::now();
    try {
        request.json = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
        request.id = request.json->optValue<std::string>("id", "");
        request.type = request.json->optValue<std::string>("type", "");
    } catch (const Poco::Exception&) {
        request.json = nullptr;
    }
    Poco::HMACEngine<Sha256Engine> hmac(secret_);
    hmac.update(body);
    const bool signed_ = constantTimeEqual(signature, "sha256=" + Poco::DigestEngine::digestToHex(hmac.digest()));
    bool fresh = false;
    if (request.json && !timestamp.empty()) {
        try {
            int zone = 0;
            const std::int64_t sentAt = Poco::DateTimeParser::parse(Poco::DateTimeFormat::ISO8601_FORMAT,
                                                                    request.json->getValue<std::string>("sentAt"), zone)
                                            .timestamp()
                                            .epochTime();
            const std::int64_t header = std::stoll(timestamp);
            const std::int64_t now =
                std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                    .count();
            fresh = header == sentAt && std::llabs(now - header) <= kMaximumAgeSeconds;
        } catch (const std::exception&) {
            fresh = false;
        }
    }
    request.authentic = signed_ && fresh;

    std::unique_lock lock(mutex_);
    if (!request.authentic) {
        requests_.push_back(request);
        changed_.notify_all();
        return 401;
    }
    if (mode_ == Mode::Hang) {
        requests_.push_back(request);
        changed_.notify_all();
        // Held until told otherwise (at most a minute); the client's timeout ends the exchange meanwhile.
        changed_.wait_for(lock, 60s, [this] { return stopping_ || mode_ != Mode::Hang; });
        return 0;
    }
    request.acknowledged = mode_ == Mode::Acknowledge;
    requests_.push_back(request);
    changed_.notify_all();
    return request.acknowledged ? 204 : 500;
}

std::vector<WebhookReceiver::Request> WebhookReceiver::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

std::vector<WebhookReceiver::Request> WebhookReceiver::acknowledged() const {
    std::lock_guard lock(mutex_);
    std::vector<Request> found;
    std::copy_if(requests_.begin(), requests_.end(), std::back_inserter(found),
                 [](const Request& request) { return request.acknowledged; });
    return found;
}

std::vector<WebhookReceiver::Request> WebhookReceiver::waitForAcknowledged(std::size_t count,
                                                                           std::chrono::milliseconds timeout) const {
    {
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, timeout, [&] {
            return static_cast<std::size_t>(std::count_if(requests_.begin(), requests_.end(),
                                                          [](const Request& r) { return r.acknowledged; })) >= count;
        });
    }
    return acknowledged();
}

std::vector<WebhookReceiver::Request> WebhookReceiver::waitForRequests(std::size_t count,
                                                                       std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
    return requests_;
}

void WebhookReceiver::clear() {
    std::lock_guard lock(mutex_);
    requests_.clear();
}

}  // namespace bridge::testsupport
