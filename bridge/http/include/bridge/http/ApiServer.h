#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "bridge/base/Config.h"
#include "bridge/base/Metrics.h"
#include "bridge/crypto/TokenAuthority.h"
#include "bridge/http/ApiFamily.h"

namespace bridge {

class HttpListener;

// The HTTP server: one listener (reactor + workers, see HttpListener) whose request-handler factory tries each
// family's routes and falls back to a 404 in the family's shape (or problem+json for a path no family owns). With
// `http.internalPort` set, the internal families (the sync engine's broker) get a listener and workers of their
// own on that port and are no longer served on the public one.
class ApiServer {
public:
    static constexpr std::size_t kMaxBodyBytes = 64 * 1024;

    ApiServer(const HttpConfig& config, std::vector<std::shared_ptr<ApiFamily>> families,
              std::vector<std::shared_ptr<ApiFamily>> internalFamilies, const TokenAuthority& authority,
              Metrics& metrics);
    ~ApiServer();

    // Connections of the public listener, or of the internal one.
    struct ConnectionStats {
        int current = 0;
        int maxConcurrent = 0;
        std::int64_t total = 0;
        int queued = 0;  // complete requests waiting for a worker
        std::int64_t refused = 0;
        std::int64_t timedOut = 0;  // closed because a head or body did not arrive in time
    };
    ConnectionStats connectionStats() const;
    ConnectionStats internalConnectionStats() const;

    void start();
    // Stops accepting, lets in-flight requests finish, then stops.
    void stop();
    int port() const;
    // The internal listener's port; 0 when the internal families share the public port.
    int internalPort() const;

private:
    std::unique_ptr<HttpListener> public_;
    std::unique_ptr<HttpListener> internal_;
};

}  // namespace bridge
