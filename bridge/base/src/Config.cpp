#include "bridge/base/Config.h"

#include <Poco/Util/AbstractConfiguration.h>

#include <cctype>
#include <charconv>
#include <cstdlib>

namespace bridge {

namespace {

class KeyReader {
public:
    KeyReader(const Poco::Util::AbstractConfiguration* file, const EnvironmentLookup& environment)
        : file_(file), environment_(environment) {}

    std::optional<std::string> raw(const std::string& key) const {
        if (auto value = environment_(environmentVariableFor(key))) return value;
        if (file_ != nullptr && file_->hasProperty(key)) return file_->getRawString(key);
        return std::nullopt;
    }

    std::string text(const std::string& key, const std::string& fallback) const { return raw(key).value_or(fallback); }

    std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min, std::int64_t max) const {
        auto value = raw(key);
        if (!value) return fallback;
        // Digits only: Poco's NumberParser would read "8,080" as 8080 (',' is its thousands separator).
        std::int64_t parsed = 0;
        const char* end = value->data() + value->size();
        const auto [parsedUpTo, failure] = std::from_chars(value->data(), end, parsed);
        if (failure != std::errc() || parsedUpTo != end || parsed < min || parsed > max) {
            throw ConfigError(key + " must be a whole number from " + std::to_string(min) + " to " +
                              std::to_string(max));
        }
        return parsed;
    }

private:
    const Poco::Util::AbstractConfiguration* file_;
    const EnvironmentLookup& environment_;
};

// notify.webhookUrl: https anywhere, plain http only to this machine (a local relay, the tests' receiver).
void checkWebhookUrl(const std::string& url) {
    const auto schemeEnd = url.find("://");
    const std::string scheme = schemeEnd == std::string::npos ? "" : url.substr(0, schemeEnd);
    if (scheme != "https" && scheme != "http") {
        throw ConfigError("notify.webhookUrl must be an https:// URL (or http:// to 127.0.0.1, ::1 or localhost)");
    }
    const std::string rest = url.substr(schemeEnd + 3);
    const std::string authority = rest.substr(0, rest.find_first_of("/?#"));
    if (authority.empty() || authority.find('@') != std::string::npos) {
        throw ConfigError("notify.webhookUrl must name a host (and no user information)");
    }
    std::string host;
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string::npos) throw ConfigError("notify.webhookUrl has an unclosed IPv6 address");
        host = authority.substr(1, close - 1);
    } else {
        host = authority.substr(0, authority.find(':'));
    }
    if (host.empty()) throw ConfigError("notify.webhookUrl must name a host");
    std::string lowerHost;
    for (char c : host) lowerHost += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const bool loopback = lowerHost == "127.0.0.1" || lowerHost == "::1" || lowerHost == "localhost";
    if (scheme == "http" && !loopback) {
        throw ConfigError("notify.webhookUrl: plain http is only allowed to 127.0.0.1, ::1 or localhost; use https");
    }
}

}  // namespace

std::string environmentVariableFor(const std::string& key) {
    std::string name = "BRIDGE_";
    for (char c : key) name += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
}

EnvironmentLookup processEnvironment() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* value = std::getenv(name.c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

Config loadConfig(const Poco::Util::AbstractConfiguration* file, const EnvironmentLookup& environment) {
    const KeyReader keys(file, environment);
    Config config;

    config.http.port = static_cast<int>(keys.integer("http.port", config.http.port, 0, 65535));
    config.http.threads = static_cast<int>(keys.integer("http.threads", config.http.threads, 1, 4096));
    config.http.maxQueued = static_cast<int>(keys.integer("http.maxQueued", config.http.maxQueued, 1, 65536));
    config.http.keepAliveSeconds =
        static_cast<int>(keys.integer("http.keepAliveSeconds", config.http.keepAliveSeconds, 0, 3600));
    config.http.headTimeoutSeconds =
        static_cast<int>(keys.integer("http.headTimeoutSeconds", config.http.headTimeoutSeconds, 1, 3600));
    config.http.bodyTimeoutSeconds =
        static_cast<int>(keys.integer("http.bodyTimeoutSeconds", config.http.bodyTimeoutSeconds, 1, 3600));
    config.http.maxConnections =
        static_cast<int>(keys.integer("http.maxConnections", config.http.maxConnections, 1, 1000000));
    if (auto internal = keys.raw("http.internalPort"); internal && !internal->empty()) {
        config.http.internalPort = static_cast<int>(keys.integer("http.internalPort", 0, 0, 65535));
    }
    config.http.internalThreads =
        static_cast<int>(keys.integer("http.internalThreads", config.http.internalThreads, 1, 4096));

    config.store.dsn = keys.text("store.dsn", config.store.dsn);
    config.store.timeout = std::chrono::seconds(keys.integer("store.timeout", config.store.timeout.count(), 1, 600));

    config.crypto.keys = keys.text("crypto.keys", "");
    if (auto active = keys.raw("crypto.activeKey"); active && !active->empty()) config.crypto.activeKey = *active;
    config.admin.jwtSecret = keys.text("admin.jwtSecret", "");

    auto& salesforce = config.salesforce;
    salesforce.clientId = keys.text("salesforce.clientId", "");
    salesforce.clientSecret = keys.text("salesforce.clientSecret", "");
    salesforce.productionLoginUrl = keys.text("salesforce.loginUrl.production", salesforce.productionLoginUrl);
    salesforce.sandboxLoginUrl = keys.text("salesforce.loginUrl.sandbox", salesforce.sandboxLoginUrl);
    salesforce.callbackUrl = keys.text("salesforce.callbackUrl", salesforce.callbackUrl);
    salesforce.timeout = std::chrono::milliseconds(keys.integer("salesforce.timeoutMs", 10000, 1, 600000));
    salesforce.accessTokenTtl = std::chrono::seconds(keys.integer("salesforce.accessTokenTtl", 900, 1, 86400));
    // Hours by contract; fractional hours are not needed, but tests shorten the interval with seconds below.
    salesforce.keepAliveInterval = std::chrono::hours(keys.integer("salesforce.keepAliveHours", 24, 0, 24 * 365));
    if (keys.raw("salesforce.keepAliveSeconds")) {
        salesforce.keepAliveInterval =
            std::chrono::seconds(keys.integer("salesforce.keepAliveSeconds", 0, 0, 365LL * 24 * 3600));
    }

    salesforce.trustedDomains = keys.text("salesforce.trustedDomains", salesforce.trustedDomains);
    salesforce.refreshLease = std::chrono::milliseconds(
        keys.integer("salesforce.refreshLeaseMs", salesforce.refreshLease.count(), 30, 3600000));
    salesforce.refreshRecoveryFile = keys.text("salesforce.refreshRecoveryFile", salesforce.refreshRecoveryFile);
    if (salesforce.refreshRecoveryFile.empty()) throw ConfigError("salesforce.refreshRecoveryFile must not be empty");
    config.test.clockOffset = std::chrono::milliseconds(
        keys.integer("test.clockOffsetMs", 0, -365LL * 24 * 3600 * 1000, 365LL * 24 * 3600 * 1000));

    config.panel.legacyReturnUrl = keys.text("panel.legacy.returnUrl", "");
    config.panel.modernReturnUrl = keys.text("panel.modern.returnUrl", "");

    config.legacy.dsn = keys.text("legacy.dsn", "");
    config.legacy.tokenKeys = keys.text("legacy.tokenKeys", "");
    config.migrate.batchSize = static_cast<int>(keys.integer("migrate.batchSize", 500, 1, 100000));
    config.firstNewLegacyId = keys.integer("ids.firstNewLegacyId", config.firstNewLegacyId, 1, 4294967295LL);

    auto& notify = config.notify;
    notify.webhookUrl = keys.text("notify.webhookUrl", "");
    notify.secret = keys.text("notify.secret", "");
    if (!notify.webhookUrl.empty()) {
        checkWebhookUrl(notify.webhookUrl);
        if (notify.secret.size() < kMinimumWebhookSecretBytes) {
            throw ConfigError("notify.secret is required with notify.webhookUrl and must be at least " +
                              std::to_string(kMinimumWebhookSecretBytes) +
                              " bytes (generate one with: openssl rand "
                              "-base64 48)");
        }
    }
    notify.timeout = std::chrono::milliseconds(keys.integer("notify.timeoutMs", 5000, 10, 600000));
    notify.retryInitial = std::chrono::milliseconds(keys.integer("notify.retryInitialMs", 1000, 1, 3600000));
    notify.retryFor = std::chrono::hours(keys.integer("notify.retryForHours", 24, 1, 24 * 365));
    notify.poll = std::chrono::milliseconds(keys.integer("notify.pollMs", 500, 10, 600000));

    config.log.level = keys.text("log.level", config.log.level);
    config.log.format = keys.text("log.format", config.log.format);
    if (config.log.format != "text" && config.log.format != "json")
        throw ConfigError("log.format must be text or json");
    static const char* const levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    bool knownLevel = false;
    for (const char* level : levels) knownLevel = knownLevel || config.log.level == level;
    if (!knownLevel) throw ConfigError("log.level must be one of trace, debug, info, warn, error, critical, off");
    return config;
}

}  // namespace bridge
