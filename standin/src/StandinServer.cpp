#include "standin/StandinServer.h"

#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>
#include <Poco/Timespan.h>

#include <stdexcept>
#include <utility>

#include "StandinRequestHandlerFactory.h"
#include "StandinState.h"

namespace bridge::standin {
namespace {

constexpr int kMaxQueuedConnections = 256;
constexpr int kKeepAliveSeconds = 15;
constexpr int kIdleThreadSeconds = 60;

}  // namespace

StandinServer::StandinServer(StandinOptions options)
    : options_(std::move(options)), state_(std::make_shared<StandinState>(options_.clientId, options_.clientSecret)) {}

StandinServer::~StandinServer() { stop(); }

void StandinServer::start() {
    if (started_) throw std::logic_error("the stand-in was already started");
    if (options_.threads < 1) throw std::invalid_argument("the stand-in needs at least one thread");
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(options_.host, static_cast<Poco::UInt16>(options_.port)));
    port_ = socket.address().port();

    Poco::Net::HTTPServerParams::Ptr parameters = new Poco::Net::HTTPServerParams;
    parameters->setMaxThreads(options_.threads);
    parameters->setMaxQueued(kMaxQueuedConnections);
    parameters->setKeepAlive(true);
    parameters->setKeepAliveTimeout(Poco::Timespan(kKeepAliveSeconds, 0));

    threadPool_ = std::make_unique<Poco::ThreadPool>(1, options_.threads, kIdleThreadSeconds);
    server_ = std::make_unique<Poco::Net::HTTPServer>(
        new StandinRequestHandlerFactory(state_, options_.host + ":" + std::to_string(port_)), *threadPool_, socket,
        parameters);
    server_->start();
    started_ = true;
}

void StandinServer::stop() {
    if (!server_) return;
    state_->shutdown();
    server_->stopAll(true);
    threadPool_->joinAll();
    server_.reset();
    threadPool_.reset();
}

int StandinServer::port() const { return port_; }

std::string StandinServer::baseUrl() const { return "http://" + options_.host + ":" + std::to_string(port_); }

}  // namespace bridge::standin
