#include "bridge/http/ApiServer.h"

#include <sys/resource.h>

#include "ApiRequestHandler.h"
#include "bridge/base/Logging.h"
#include "bridge/http/HttpListener.h"

namespace bridge {

namespace {

HttpListener::Settings listenerSettings(const HttpConfig& config, std::string name, int port, int workers) {
    HttpListener::Settings settings;
    settings.name = std::move(name);
    settings.port = port;
    settings.workers = workers;
    settings.backlog = config.maxQueued;
    settings.maxConnections = config.maxConnections;
    settings.headTimeout = std::chrono::seconds(config.headTimeoutSeconds);
    settings.bodyTimeout = std::chrono::seconds(config.bodyTimeoutSeconds);
    settings.idleTimeout = std::chrono::seconds(config.keepAliveSeconds);
    return settings;
}

// Every open connection is a descriptor: the soft limit (often 1,024) would refuse clients long before
// http.maxConnections. Raised up to the hard limit, never lowered.
void allowDescriptors(rlim_t wanted) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) return;
    const rlim_t raised = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    if (raised <= limit.rlim_cur) return;
    limit.rlim_cur = raised;
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
        logger("http")->warn("could not raise the open-file limit to {}", raised);
    }
}

ApiServer::ConnectionStats statsOf(const HttpListener* listener) {
    if (listener == nullptr) return {};
    const auto stats = listener->stats();
    return {stats.open, stats.maxOpen, stats.accepted, stats.waiting, stats.refused, stats.timedOut};
}

}  // namespace

ApiServer::ApiServer(const HttpConfig& config, std::vector<std::shared_ptr<ApiFamily>> families,
                     std::vector<std::shared_ptr<ApiFamily>> internalFamilies, const TokenAuthority& authority,
                     Metrics& metrics) {
    const int listeners = config.internalPort ? 2 : 1;
    allowDescriptors(static_cast<rlim_t>(config.maxConnections) * listeners + 1024);
    if (config.internalPort) {
        internal_ = std::make_unique<HttpListener>(
            listenerSettings(config, "internal", *config.internalPort, config.internalThreads),
            new ApiRequestHandlerFactory(std::move(internalFamilies), authority, metrics));
    } else {
        for (auto& family : internalFamilies) families.push_back(std::move(family));
    }
    public_ = std::make_unique<HttpListener>(listenerSettings(config, "http", config.port, config.threads),
                                             new ApiRequestHandlerFactory(std::move(families), authority, metrics));
}

ApiServer::~ApiServer() { stop(); }

void ApiServer::start() {
    if (internal_) internal_->start();
    public_->start();
}

void ApiServer::stop() {
    if (public_) public_->stop();
    if (internal_) internal_->stop();
}

ApiServer::ConnectionStats ApiServer::connectionStats() const { return statsOf(public_.get()); }

ApiServer::ConnectionStats ApiServer::internalConnectionStats() const { return statsOf(internal_.get()); }

int ApiServer::port() const { return public_ ? public_->port() : 0; }

int ApiServer::internalPort() const { return internal_ ? internal_->port() : 0; }

}  // namespace bridge
