#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace bridge {

// Configuration is read once at start into these structs (OPERATIONS.md, "Configuration keys"); nothing reads
// configuration keys after that.

struct HttpConfig {
    int port = 8080;
    int threads = 64;             // workers answering complete requests; idle connections hold none
    int maxQueued = 256;          // the listening socket's backlog
    int keepAliveSeconds = 15;    // an idle keep-alive connection is closed after this; 0 = no keep-alive
    int headTimeoutSeconds = 10;  // a request head must be complete this long after its first byte
    int bodyTimeoutSeconds = 10;  // and its body this long after the head
    int maxConnections = 10000;   // open connections per listener; beyond, new ones are closed at once
    // The sync engine's own listener for /internal/v1 (its own workers); absent = served on http.port.
    std::optional<int> internalPort;
    int internalThreads = 16;
};

struct StoreConfig {
    std::string dsn = "sqlite:bridge.db";
    // Bounds every wait on the database: a MySQL read or write, SQLite's wait for the writer's lock.
    std::chrono::seconds timeout{5};
};

struct CryptoConfig {
    std::string keys;  // "ID:BASE64(32 bytes),..."; never logged
    std::optional<std::string> activeKey;
};

struct AdminConfig {
    std::string jwtSecret;  // never logged
};

struct SalesforceConfig {
    std::string clientId;
    std::string clientSecret;  // never logged
    std::string productionLoginUrl = "https://login.salesforce.com";
    std::string sandboxLoginUrl = "https://test.salesforce.com";
    std::string callbackUrl = "http://localhost:8080/oauth/salesforce/callback";
    std::chrono::milliseconds timeout{10000};
    std::chrono::seconds accessTokenTtl{900};
    std::chrono::seconds keepAliveInterval{24 * 3600};  // 0 = never
    // Domains a token answer's instance_url and identity URL may name (besides the login hosts).
    std::string trustedDomains = "salesforce.com,force.com,salesforce.mil,cloudforce.com";
    // A refresh lease lasts this long unless renewed (every third of it while Salesforce answers).
    std::chrono::milliseconds refreshLease{6000};
    // Where a rotated refresh token the store could not take waits, sealed, for the next start.
    std::string refreshRecoveryFile = "refresh-recovery.jsonl";
};

// Outbound webhook notifications of lost and recovered connections (docs/configuration.md); off without a URL.
struct NotifyConfig {
    std::string webhookUrl;  // https, or http to 127.0.0.1, ::1 or localhost; empty = no notifications
    std::string secret;      // HMAC-SHA256 key, at least 32 bytes when a URL is set; never logged
    std::chrono::milliseconds timeout{5000};
    std::chrono::milliseconds retryInitial{1000};
    std::chrono::hours retryFor{24};
    std::chrono::milliseconds poll{500};
};

// Keys that exist for tests only; production leaves them at their defaults.
struct TestConfig {
    std::chrono::milliseconds clockOffset{0};  // shifts the wall clock of the services (WallClock)
};

struct PanelConfig {
    // Empty: the built-in return pages of this server.
    std::string legacyReturnUrl;
    std::string modernReturnUrl;
};

struct LegacyConfig {
    std::string dsn;
    std::string tokenKeys;  // never logged
};

struct MigrateConfig {
    int batchSize = 500;
};

struct LogConfig {
    std::string level = "info";
    std::string format = "text";  // text | json
};

struct Config {
    HttpConfig http;
    StoreConfig store;
    CryptoConfig crypto;
    AdminConfig admin;
    SalesforceConfig salesforce;
    PanelConfig panel;
    LegacyConfig legacy;
    MigrateConfig migrate;
    LogConfig log;
    NotifyConfig notify;
    TestConfig test;
    std::int64_t firstNewLegacyId = 2000000000;
};

// notify.secret signs with HMAC-SHA256, whose key should hold at least the hash's 256 bits.
inline constexpr std::size_t kMinimumWebhookSecretBytes = 32;

// A configuration that cannot be used: the process exits with code 2 and this message.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reads every key: the environment (BRIDGE_ + the key upper-cased, '.' as '_') wins over the file.
// `environment` looks a variable up (std::getenv in production, a map in tests).
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;
Config loadConfig(const Poco::Util::AbstractConfiguration* file, const EnvironmentLookup& environment);
EnvironmentLookup processEnvironment();
std::string environmentVariableFor(const std::string& key);

}  // namespace bridge
