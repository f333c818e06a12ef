#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "bridge/base/Config.h"
#include "bridge/base/Metrics.h"
#include "bridge/crypto/TokenAuthority.h"
#include "bridge/crypto/TokenCipher.h"
#include "bridge/http/ApiServer.h"
#include "bridge/salesforce/SalesforceClient.h"
#include "bridge/services/Connectivity.h"
#include "bridge/services/Directory.h"
#include "bridge/services/InvalidationFollower.h"
#include "bridge/services/KeepAlive.h"
#include "bridge/services/TokenBroker.h"
#include "bridge/services/WebhookDeliverer.h"
#include "bridge/store/Store.h"

namespace bridge::app {

// Everything `bridge serve` runs, wired once from the typed configuration: the store (schema brought up to
// date), the token cipher, the JWT authority, the Salesforce client, the services and the HTTP server with
// every family of endpoints. Tests start one in-process on an ephemeral port.
class BridgeService {
public:
    // Throws ConfigError for a configuration serve refuses (no or malformed crypto.keys, no admin.jwtSecret).
    explicit BridgeService(const Config& config);
    ~BridgeService();

    void start();
    void stop();
    int port() const;
    int internalPort() const;  // 0 when /internal/v1 is served on port()
    ApiServer::ConnectionStats connectionStats() const { return server_->connectionStats(); }
    ApiServer::ConnectionStats internalConnectionStats() const { return server_->internalConnectionStats(); }

    Store& store() { return *store_; }
    const TokenAuthority& authority() const { return *authority_; }

private:
    Config config_;
    // Names this process in the store's leases and records (refresh, delivery, invalidations followed).
    const std::string instanceId_;
    std::unique_ptr<Store> store_;
    std::unique_ptr<TokenCipher> cipher_;
    std::unique_ptr<TokenAuthority> authority_;
    std::unique_ptr<SalesforceClient> salesforce_;
    Metrics metrics_;
    std::unique_ptr<Directory> directory_;
    std::unique_ptr<TokenBroker> broker_;
    std::unique_ptr<Connectivity> connectivity_;
    std::unique_ptr<KeepAlive> keepAlive_;
    std::unique_ptr<InvalidationFollower> invalidationFollower_;
    std::unique_ptr<WebhookDeliverer> webhook_;
    std::unique_ptr<ApiServer> server_;
};

// Refuses a configuration serve cannot run with (exit code 2): the reasons are the contract's, and a signing
// secret shorter than kMinimumJwtSecretBytes.
void checkServeConfig(const Config& config);

// HS256's key must hold at least the hash's 256 bits.
inline constexpr std::size_t kMinimumJwtSecretBytes = 32;
// Refuses an absent or short admin.jwtSecret (ConfigError); `purpose` ends "admin.jwtSecret is required to ...".
void checkJwtSecret(const std::string& secret, std::string_view purpose);

}  // namespace bridge::app
