#include "app/BridgeService.h"

#include "app/OpenApiDocument.h"
#include "bridge/base/Logging.h"
#include "bridge/base/WallClock.h"
#include "bridge/crypto/Secrets.h"
#include "bridge/http/ConsoleApi.h"
#include "bridge/http/OAuthCallbackApi.h"
#include "bridge/http/OperationsApi.h"
#include "bridge/store/StoreFactory.h"
#include "legacy/LegacyApi.h"
#include "migrations/SchemaCatalog.h"
#include "modern/BrokerApi.h"
#include "modern/ModernApi.h"

namespace bridge::app {

namespace {

// The built-in return pages are served by this server, under the host of the registered callback URL.
std::string builtInPage(const std::string& callbackUrl, std::string_view path) {
    const auto scheme = callbackUrl.find("://");
    const auto pathStart = scheme == std::string::npos ? std::string::npos : callbackUrl.find('/', scheme + 3);
    return callbackUrl.substr(0, pathStart) + std::string(path);
}

TokenCipher cipherFrom(const CryptoConfig& crypto) {
    try {
        return TokenCipher::fromSpec(crypto.keys, crypto.activeKey);
    } catch (const TokenCipherConfigError& error) {
        throw ConfigError(std::string("crypto.keys: ") + error.what());
    }
}

}  // namespace

void checkJwtSecret(const std::string& secret, std::string_view purpose) {
    if (secret.empty()) throw ConfigError("admin.jwtSecret is required to " + std::string(purpose));
    // HS256 is only as strong as its key: RFC 7518 asks for at least as many bits as the hash gives (256).
    if (secret.size() < kMinimumJwtSecretBytes) {
        throw ConfigError("admin.jwtSecret is too short: " + std::to_string(secret.size()) + " bytes, at least " +
                          std::to_string(kMinimumJwtSecretBytes) +
                          " are required (generate one with: openssl rand -base64 48)");
    }
}

void checkServeConfig(const Config& config) {
    if (config.crypto.keys.empty())
        throw ConfigError("crypto.keys is required: serve refuses to store tokens unencrypted");
    checkJwtSecret(config.admin.jwtSecret, "verify bearer tokens");
    cipherFrom(config.crypto);
}

BridgeService::BridgeService(const Config& config) : config_(config), instanceId_(base64UrlEncode(randomBytes(12))) {
    checkServeConfig(config_);
    // Test-only (test.clockOffsetMs, 0 otherwise): before any thread reads the clock.
    WallClock::setOffsetForTests(config_.test.clockOffset);
    cipher_ = std::make_unique<TokenCipher>(cipherFrom(config_.crypto));
    authority_ = std::make_unique<TokenAuthority>(config_.admin.jwtSecret);
    // Each request thread may hold a store session; a few more serve background work.
    const int requestThreads = config_.http.threads + (config_.http.internalPort ? config_.http.internalThreads : 0);
    store_ = openStore(config_.store.dsn, requestThreads + 4, config_.store.timeout);
    migrations::upgradeSchema(*store_);

    SalesforceSettings salesforce;
    salesforce.clientId = config_.salesforce.clientId;
    salesforce.clientSecret = config_.salesforce.clientSecret;
    salesforce.productionLoginUrl = config_.salesforce.productionLoginUrl;
    salesforce.sandboxLoginUrl = config_.salesforce.sandboxLoginUrl;
    salesforce.callbackUrl = config_.salesforce.callbackUrl;
    salesforce.timeout = config_.salesforce.timeout;
    salesforce.trustedDomains = config_.salesforce.trustedDomains;
    salesforce_ = std::make_unique<SalesforceClient>(salesforce);

    ReturnPages pages;
    pages.legacy = config_.panel.legacyReturnUrl.empty()
                       ? builtInPage(config_.salesforce.callbackUrl, OAuthCallbackApi::kLegacyReturnPath)
                       : config_.panel.legacyReturnUrl;
    pages.modern = config_.panel.modernReturnUrl.empty()
                       ? builtInPage(config_.salesforce.callbackUrl, OAuthCallbackApi::kModernReturnPath)
                       : config_.panel.modernReturnUrl;

    directory_ = std::make_unique<Directory>(*store_, config_.firstNewLegacyId);
    BrokerSettings brokerSettings;
    brokerSettings.accessTokenTtl = config_.salesforce.accessTokenTtl;
    brokerSettings.salesforceTimeout = config_.salesforce.timeout;
    brokerSettings.leaseDuration = config_.salesforce.refreshLease;
    brokerSettings.recoveryFile = config_.salesforce.refreshRecoveryFile;
    brokerSettings.instanceId = instanceId_;
    // Transitions queue webhook notifications only while a webhook is configured (docs/decisions.md).
    const NotificationOutbox outbox(!config_.notify.webhookUrl.empty());
    brokerSettings.outbox = outbox;
    broker_ = std::make_unique<TokenBroker>(*store_, *salesforce_, *cipher_, metrics_, brokerSettings);
    connectivity_ = std::make_unique<Connectivity>(
        *store_, *salesforce_, *cipher_, pages, [this](std::int64_t orgId) { broker_->connectionChanged(orgId); },
        outbox);

    std::vector<std::shared_ptr<ApiFamily>> families{
        std::make_shared<legacy::LegacyApi>(*directory_, *connectivity_),
        std::make_shared<modern::ModernApi>(*directory_, *connectivity_),
        std::make_shared<OAuthCallbackApi>(*connectivity_),
        std::make_shared<ConsoleApi>(),
        std::make_shared<OperationsApi>(*store_, metrics_, std::string(openApiDocument())),
    };
    // The sync engine's family: on http.internalPort when one is set, else beside the others.
    std::vector<std::shared_ptr<ApiFamily>> internalFamilies{std::make_shared<modern::BrokerApi>(*broker_)};
    server_ = std::make_unique<ApiServer>(config_.http, std::move(families), std::move(internalFamilies), *authority_,
                                          metrics_);
}

BridgeService::~BridgeService() { stop(); }

void BridgeService::start() {
    // Before anything refreshes: a rotated refresh token an earlier run could not store is the connection's only
    // valid one.
    try {
        if (const int reapplied = broker_->reapplyRecoveredRefreshTokens(); reapplied > 0) {
            logger("broker")->warn("re-applied {} rotated refresh token(s) from {}", reapplied,
                                   config_.salesforce.refreshRecoveryFile);
        }
    } catch (const std::runtime_error& error) {
        logger("broker")->error("recovery file not read: {}", error.what());
    }
    if (config_.salesforce.keepAliveInterval.count() > 0) {
        KeepAliveSettings keepAlive;
        keepAlive.idleAfter = config_.salesforce.keepAliveInterval;
        // Look for idle connections a few times per interval, at most every minute.
        keepAlive.checkEvery =
            std::min<std::chrono::milliseconds>(config_.salesforce.keepAliveInterval / 4, std::chrono::minutes(1));
        keepAlive_ = std::make_unique<KeepAlive>(*broker_, *store_, keepAlive);
    }
    invalidationFollower_ = std::make_unique<InvalidationFollower>(*broker_);
    if (!config_.notify.webhookUrl.empty()) {
        WebhookSettings webhook;
        webhook.url = config_.notify.webhookUrl;
        webhook.secret = config_.notify.secret;
        webhook.timeout = config_.notify.timeout;
        webhook.retryInitial = config_.notify.retryInitial;
        webhook.retryFor = config_.notify.retryFor;
        webhook.poll = config_.notify.poll;
        webhook.instanceId = instanceId_;
        webhook_ = std::make_unique<WebhookDeliverer>(*store_, metrics_, webhook);
    }
    server_->start();
    logger("http")->info("listening on port {}", server_->port());
    if (server_->internalPort() != 0) {
        logger("http")->info("serving /internal/v1 on its own port {}", server_->internalPort());
    }
}

void BridgeService::stop() {
    if (server_) server_->stop();
    if (keepAlive_) keepAlive_->stop();
    if (invalidationFollower_) invalidationFollower_->stop();
    if (webhook_) webhook_->stop();
}

int BridgeService::port() const { return server_->port(); }

int BridgeService::internalPort() const { return server_->internalPort(); }

}  // namespace bridge::app
