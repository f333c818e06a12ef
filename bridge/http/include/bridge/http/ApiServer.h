#pragma once

#include <Poco/Net/HTTPServer.h>
#include <Poco/ThreadPool.h>

#include <memory>
#include <vector>

#include "bridge/base/Config.h"
#include "bridge/base/Metrics.h"
#include "bridge/crypto/TokenAuthority.h"
#include "bridge/http/ApiFamily.h"

namespace bridge {

// The HTTP server: one Poco HTTPServer whose single request-handler factory tries each family's routes and falls
// back to a 404 in the family's shape (or problem+json for a path no family owns).
class ApiServer {
public:
    static constexpr std::size_t kMaxBodyBytes = 64 * 1024;

    ApiServer(const HttpConfig& config, std::vector<std::shared_ptr<ApiFamily>> families,
              const TokenAuthority& authority, Metrics& metrics);
    ~ApiServer();

    // Connections as Poco's TCPServer counts them. Poco holds a thread per open keep-alive connection, so
    // `queued` above zero means clients are waiting for a thread.
    struct ConnectionStats {
        int current = 0;
        int maxConcurrent = 0;
        int total = 0;
        int queued = 0;
        int refused = 0;
    };
    ConnectionStats connectionStats() const;

    void start();
    // Stops accepting, lets in-flight requests finish (up to the grace period), then stops.
    void stop();
    int port() const;

private:
    Poco::ThreadPool threads_;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace bridge
