#include "bridge/http/ApiServer.h"

#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>

#include "ApiRequestHandler.h"

namespace bridge {

ApiServer::ApiServer(const HttpConfig& config, std::vector<std::shared_ptr<ApiFamily>> families,
                     const TokenAuthority& authority, Metrics& metrics)
    : threads_("http", 2, config.threads) {
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(config.threads);
    params->setMaxQueued(config.maxQueued);
    params->setKeepAlive(config.keepAliveSeconds > 0);
    params->setKeepAliveTimeout(Poco::Timespan(config.keepAliveSeconds, 0));
    params->setMaxKeepAliveRequests(0);  // unlimited: the idle timeout frees threads, not a request count
    params->setServerName("bridge");
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress("0.0.0.0", static_cast<Poco::UInt16>(config.port)), true);
    socket.listen(config.maxQueued);
    server_ = std::make_unique<Poco::Net::HTTPServer>(
        new ApiRequestHandlerFactory(std::move(families), authority, metrics), threads_, socket, params);
}

ApiServer::~ApiServer() { stop(); }

void ApiServer::start() { server_->start(); }

void ApiServer::stop() {
    if (!server_) return;
    // stopAll(false) lets connections finish the request they are in; the pool then waits for its threads.
    server_->stopAll(false);
    threads_.joinAll();
    server_.reset();
}

ApiServer::ConnectionStats ApiServer::connectionStats() const {
    if (!server_) return {};
    return {server_->currentConnections(), server_->maxConcurrentConnections(), server_->totalConnections(),
            server_->queuedConnections(), server_->refusedConnections()};
}

int ApiServer::port() const { return server_ ? server_->port() : 0; }

}  // namespace bridge
