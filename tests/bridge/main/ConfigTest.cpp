#include <Poco/AutoPtr.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/PropertyFileConfiguration.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "app/BridgeService.h"
#include "bridge/base/Config.h"
#include "bridge/crypto/Secrets.h"

namespace bridge {
namespace {

using Environment = std::map<std::string, std::string>;

EnvironmentLookup lookupIn(const Environment& environment) {
    return [environment](const std::string& name) -> std::optional<std::string> {
        auto found = environment.find(name);
        if (found == environment.end()) return std::nullopt;
        return found->second;
    };
}

Poco::AutoPtr<Poco::Util::PropertyFileConfiguration> propertiesFile(const std::string& text) {
    std::istringstream stream(text);
    return new Poco::Util::PropertyFileConfiguration(stream);
}

Poco::AutoPtr<Poco::Util::IniFileConfiguration> iniFile(const std::string& text) {
    std::istringstream stream(text);
    return new Poco::Util::IniFileConfiguration(stream);
}

Config loadProperties(const std::string& text, const Environment& environment = {}) {
    return loadConfig(propertiesFile(text).get(), lookupIn(environment));
}

// One documented key: how it is spelled in the environment, two distinct values (one for the file, one for the
// environment), the documented default, and how the loaded configuration shows it, in the key's own unit.
struct DocumentedKey {
    std::string key;
    std::string environmentVariable;
    std::string fileValue;
    std::string environmentValue;
    std::string defaultValue;
    std::function<std::string(const Config&)> read;
};

void PrintTo(const DocumentedKey& documented, std::ostream* out) { *out << documented.key; }

std::string secondsOf(std::chrono::seconds duration) { return std::to_string(duration.count()); }

const std::string kKeyOne = "k1:" + std::string(44, 'A');
const std::string kKeyTwo = "k2:" + std::string(43, 'B') + "=";
const std::string kLegacyKey = std::string(64, 'a');

const std::vector<DocumentedKey> kDocumentedKeys{
    {"http.port", "BRIDGE_HTTP_PORT", "8081", "9090", "8080",
     [](const Config& c) { return std::to_string(c.http.port); }},
    {"http.threads", "BRIDGE_HTTP_THREADS", "8", "16", "64",
     [](const Config& c) { return std::to_string(c.http.threads); }},
    {"http.maxQueued", "BRIDGE_HTTP_MAXQUEUED", "100", "200", "256",
     [](const Config& c) { return std::to_string(c.http.maxQueued); }},
    {"http.keepAliveSeconds", "BRIDGE_HTTP_KEEPALIVESECONDS", "5", "30", "15",
     [](const Config& c) { return std::to_string(c.http.keepAliveSeconds); }},
    {"http.headTimeoutSeconds", "BRIDGE_HTTP_HEADTIMEOUTSECONDS", "2", "3", "10",
     [](const Config& c) { return std::to_string(c.http.headTimeoutSeconds); }},
    {"http.bodyTimeoutSeconds", "BRIDGE_HTTP_BODYTIMEOUTSECONDS", "4", "5", "10",
     [](const Config& c) { return std::to_string(c.http.bodyTimeoutSeconds); }},
    {"http.maxConnections", "BRIDGE_HTTP_MAXCONNECTIONS", "500", "2000", "10000",
     [](const Config& c) { return std::to_string(c.http.maxConnections); }},
    {"http.internalPort", "BRIDGE_HTTP_INTERNALPORT", "8081", "9091", "",
     [](const Config& c) { return c.http.internalPort ? std::to_string(*c.http.internalPort) : std::string(); }},
    {"http.internalThreads", "BRIDGE_HTTP_INTERNALTHREADS", "4", "8", "16",
     [](const Config& c) { return std::to_string(c.http.internalThreads); }},
    {"salesforce.trustedDomains", "BRIDGE_SALESFORCE_TRUSTEDDOMAINS", "my.salesforce.com", "force.com",
     "salesforce.com,force.com,salesforce.mil,cloudforce.com",
     [](const Config& c) { return c.salesforce.trustedDomains; }},
    {"salesforce.refreshLeaseMs", "BRIDGE_SALESFORCE_REFRESHLEASEMS", "1000", "3000", "6000",
     [](const Config& c) { return std::to_string(c.salesforce.refreshLease.count()); }},
    {"salesforce.refreshRecoveryFile", "BRIDGE_SALESFORCE_REFRESHRECOVERYFILE", "/var/lib/bridge/recovery.jsonl",
     "/srv/recovery.jsonl", "refresh-recovery.jsonl", [](const Config& c) { return c.salesforce.refreshRecoveryFile; }},
    {"test.clockOffsetMs", "BRIDGE_TEST_CLOCKOFFSETMS", "60000", "-60000", "0",
     [](const Config& c) { return std::to_string(c.test.clockOffset.count()); }},
    {"store.dsn", "BRIDGE_STORE_DSN", "sqlite:/var/lib/bridge/bridge.db",
     "mysql://bridge:secret@db.internal:3306/bridge?socket=/run/mysqld/mysqld.sock", "sqlite:bridge.db",
     [](const Config& c) { return c.store.dsn; }},
    {"crypto.keys", "BRIDGE_CRYPTO_KEYS", kKeyOne, kKeyOne + "," + kKeyTwo, "",
     [](const Config& c) { return c.crypto.keys; }},
    {"crypto.activeKey", "BRIDGE_CRYPTO_ACTIVEKEY", "k1", "k2", "",
     [](const Config& c) { return c.crypto.activeKey.value_or(""); }},
    {"admin.jwtSecret", "BRIDGE_ADMIN_JWTSECRET", "file-secret", "environment-secret", "",
     [](const Config& c) { return c.admin.jwtSecret; }},
    {"salesforce.clientId", "BRIDGE_SALESFORCE_CLIENTID", "file-client", "environment-client", "",
     [](const Config& c) { return c.salesforce.clientId; }},
    {"salesforce.clientSecret", "BRIDGE_SALESFORCE_CLIENTSECRET", "file-client-secret", "environment-client-secret", "",
     [](const Config& c) { return c.salesforce.clientSecret; }},
    {"salesforce.loginUrl.production", "BRIDGE_SALESFORCE_LOGINURL_PRODUCTION", "http://127.0.0.1:7001",
     "http://127.0.0.1:7002", "https://login.salesforce.com",
     [](const Config& c) { return c.salesforce.productionLoginUrl; }},
    {"salesforce.loginUrl.sandbox", "BRIDGE_SALESFORCE_LOGINURL_SANDBOX", "http://localhost:7001",
     "http://localhost:7002", "https://test.salesforce.com",
     [](const Config& c) { return c.salesforce.sandboxLoginUrl; }},
    {"salesforce.callbackUrl", "BRIDGE_SALESFORCE_CALLBACKURL", "https://bridge.example/oauth/salesforce/callback",
     "https://bridge.internal/oauth/salesforce/callback", "http://localhost:8080/oauth/salesforce/callback",
     [](const Config& c) { return c.salesforce.callbackUrl; }},
    {"store.timeout", "BRIDGE_STORE_TIMEOUT", "2", "30", "5",
     [](const Config& c) { return secondsOf(c.store.timeout); }},
    {"salesforce.timeoutMs", "BRIDGE_SALESFORCE_TIMEOUTMS", "2500", "30000", "10000",
     [](const Config& c) { return std::to_string(c.salesforce.timeout.count()); }},
    {"salesforce.accessTokenTtl", "BRIDGE_SALESFORCE_ACCESSTOKENTTL", "600", "1200", "900",
     [](const Config& c) { return secondsOf(c.salesforce.accessTokenTtl); }},
    {"salesforce.keepAliveHours", "BRIDGE_SALESFORCE_KEEPALIVEHOURS", "12", "48", "24",
     [](const Config& c) {
         return std::to_string(std::chrono::duration_cast<std::chrono::hours>(c.salesforce.keepAliveInterval).count());
     }},
    {"panel.legacy.returnUrl", "BRIDGE_PANEL_LEGACY_RETURNURL", "https://legacy.example/connectivity",
     "https://legacy.internal/connectivity", "", [](const Config& c) { return c.panel.legacyReturnUrl; }},
    {"panel.modern.returnUrl", "BRIDGE_PANEL_MODERN_RETURNURL", "https://app.example/connectivity",
     "https://app.internal/connectivity", "", [](const Config& c) { return c.panel.modernReturnUrl; }},
    {"legacy.dsn", "BRIDGE_LEGACY_DSN", "mysql://reader:pw@legacy-db:3306/legacy",
     "mysql://reader:pw@legacy-replica:3306/legacy", "", [](const Config& c) { return c.legacy.dsn; }},
    {"ids.firstNewLegacyId", "BRIDGE_IDS_FIRSTNEWLEGACYID", "3000000000", "2500000000", "2000000000",
     [](const Config& c) { return std::to_string(c.firstNewLegacyId); }},
    {"legacy.tokenKeys", "BRIDGE_LEGACY_TOKENKEYS", kLegacyKey, kLegacyKey + "," + std::string(64, 'f'), "",
     [](const Config& c) { return c.legacy.tokenKeys; }},
    {"migrate.batchSize", "BRIDGE_MIGRATE_BATCHSIZE", "50", "2000", "500",
     [](const Config& c) { return std::to_string(c.migrate.batchSize); }},
    {"notify.timeoutMs", "BRIDGE_NOTIFY_TIMEOUTMS", "2000", "3000", "5000",
     [](const Config& c) { return std::to_string(c.notify.timeout.count()); }},
    {"notify.retryInitialMs", "BRIDGE_NOTIFY_RETRYINITIALMS", "200", "300", "1000",
     [](const Config& c) { return std::to_string(c.notify.retryInitial.count()); }},
    {"notify.retryForHours", "BRIDGE_NOTIFY_RETRYFORHOURS", "12", "48", "24",
     [](const Config& c) { return std::to_string(c.notify.retryFor.count()); }},
    {"notify.pollMs", "BRIDGE_NOTIFY_POLLMS", "100", "250", "500",
     [](const Config& c) { return std::to_string(c.notify.poll.count()); }},
    {"log.level", "BRIDGE_LOG_LEVEL", "debug", "warn", "info", [](const Config& c) { return c.log.level; }},
    {"log.format", "BRIDGE_LOG_FORMAT", "json", "text", "text", [](const Config& c) { return c.log.format; }},
};

std::string testNameOf(const std::string& key) {
    std::string name;
    for (char c : key) name += c == '.' ? '_' : c;
    return name;
}

class ConfigKeyTest : public ::testing::TestWithParam<DocumentedKey> {};

TEST_P(ConfigKeyTest, EnvironmentVariableIsBridgePrefixedUpperCaseWithUnderscores) {
    EXPECT_EQ(environmentVariableFor(GetParam().key), GetParam().environmentVariable);
}

TEST_P(ConfigKeyTest, AbsentKeyHasTheDocumentedDefault) {
    EXPECT_EQ(GetParam().read(loadProperties("")), GetParam().defaultValue);
    EXPECT_EQ(GetParam().read(loadConfig(nullptr, lookupIn({}))), GetParam().defaultValue);
}

TEST_P(ConfigKeyTest, PropertiesFileValueIsRead) {
    const auto& documented = GetParam();
    EXPECT_EQ(documented.read(loadProperties(documented.key + " = " + documented.fileValue + "\n")),
              documented.fileValue);
}

TEST_P(ConfigKeyTest, EnvironmentWinsOverTheFile) {
    const auto& documented = GetParam();
    const Config config = loadProperties(documented.key + "=" + documented.fileValue + "\n",
                                         {{documented.environmentVariable, documented.environmentValue}});
    EXPECT_EQ(documented.read(config), documented.environmentValue);
}

TEST_P(ConfigKeyTest, EnvironmentAloneIsRead) {
    const auto& documented = GetParam();
    const Config config =
        loadConfig(nullptr, lookupIn({{documented.environmentVariable, documented.environmentValue}}));
    EXPECT_EQ(documented.read(config), documented.environmentValue);
}

INSTANTIATE_TEST_SUITE_P(OperationsKeys, ConfigKeyTest, ::testing::ValuesIn(kDocumentedKeys),
                         [](const auto& info) { return testNameOf(info.param.key); });

TEST(ConfigTest, EveryKeyOfOneFileIsReadTogether) {
    std::string text;
    for (const auto& documented : kDocumentedKeys) text += documented.key + "=" + documented.fileValue + "\n";
    const Config config = loadProperties(text);
    for (const auto& documented : kDocumentedKeys) EXPECT_EQ(documented.read(config), documented.fileValue);
}

TEST(ConfigTest, IniSectionsAreTheKeysFirstPart) {
    const Config config = loadConfig(iniFile("[http]\nport=8443\n"
                                             "[store]\ndsn=sqlite:from-ini.db\n"
                                             "[salesforce]\nloginUrl.production=http://127.0.0.1:7001\n"
                                             "[log]\nformat=json\n")
                                         .get(),
                                     lookupIn({{"BRIDGE_LOG_FORMAT", "text"}}));
    EXPECT_EQ(config.http.port, 8443);
    EXPECT_EQ(config.store.dsn, "sqlite:from-ini.db");
    EXPECT_EQ(config.salesforce.productionLoginUrl, "http://127.0.0.1:7001");
    EXPECT_EQ(config.log.format, "text");
}

TEST(ConfigTest, KeepAliveHoursZeroMeansNever) {
    EXPECT_EQ(loadProperties("salesforce.keepAliveHours=0\n").salesforce.keepAliveInterval.count(), 0);
}

TEST(ConfigTest, EmptyActiveKeyMeansTheFirstKey) {
    EXPECT_FALSE(loadProperties("crypto.activeKey=\n").crypto.activeKey.has_value());
}

TEST(ConfigTest, NumbersAtTheEdgesOfTheirRangeAreAccepted) {
    const Config config = loadProperties("http.port=0\nhttp.keepAliveSeconds=0\nids.firstNewLegacyId=4294967295\n");
    EXPECT_EQ(config.http.port, 0);
    EXPECT_EQ(config.http.keepAliveSeconds, 0);
    EXPECT_EQ(config.firstNewLegacyId, 4294967295LL);
}

struct InvalidValue {
    std::string key;
    std::string value;
};

void PrintTo(const InvalidValue& invalid, std::ostream* out) { *out << invalid.key << "=" << invalid.value; }

class ConfigInvalidValueTest : public ::testing::TestWithParam<InvalidValue> {};

TEST_P(ConfigInvalidValueTest, FromTheFileIsRefusedNamingTheKey) {
    const auto& invalid = GetParam();
    try {
        loadProperties(invalid.key + "=" + invalid.value + "\n");
        FAIL() << invalid.key << "=" << invalid.value << " was accepted";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find(invalid.key), std::string::npos) << error.what();
    }
}

TEST_P(ConfigInvalidValueTest, FromTheEnvironmentIsRefusedEvenOverAValidFile) {
    const auto& invalid = GetParam();
    const std::string validFile = "http.port=8080\nlog.level=info\nlog.format=text\nmigrate.batchSize=10\n";
    EXPECT_THROW(loadProperties(validFile, {{environmentVariableFor(invalid.key), invalid.value}}), ConfigError);
}

INSTANTIATE_TEST_SUITE_P(
    OperationsKeys, ConfigInvalidValueTest,
    ::testing::Values(
        InvalidValue{"http.port", "-1"}, InvalidValue{"http.port", "65536"}, InvalidValue{"http.port", "eighty"},
        InvalidValue{"http.port", "80a"}, InvalidValue{"http.port", "8,080"}, InvalidValue{"http.port", "80L"},
        InvalidValue{"http.port", "80.5"}, InvalidValue{"http.port", ""}, InvalidValue{"http.threads", "0"},
        InvalidValue{"http.maxQueued", "0"}, InvalidValue{"http.keepAliveSeconds", "-5"},
        InvalidValue{"http.keepAliveSeconds", "15s"}, InvalidValue{"store.timeout", "0"},
        InvalidValue{"store.timeout", "5s"}, InvalidValue{"salesforce.timeoutMs", "0"},
        InvalidValue{"salesforce.timeoutMs", "10s"}, InvalidValue{"salesforce.accessTokenTtl", "15m"},
        InvalidValue{"salesforce.keepAliveHours", "-1"}, InvalidValue{"salesforce.keepAliveHours", "1.5"},
        InvalidValue{"ids.firstNewLegacyId", "0"}, InvalidValue{"ids.firstNewLegacyId", "99999999999999999999"},
        InvalidValue{"migrate.batchSize", "0"}, InvalidValue{"migrate.batchSize", "1e3"},
        InvalidValue{"log.level", "verbose"}, InvalidValue{"log.level", ""}, InvalidValue{"log.format", "xml"},
        InvalidValue{"log.format", ""}, InvalidValue{"notify.timeoutMs", "0"},
        InvalidValue{"notify.retryInitialMs", "1s"}, InvalidValue{"notify.retryForHours", "0"},
        InvalidValue{"notify.pollMs", "-1"}, InvalidValue{"notify.webhookUrl", "hooks.example/bridge"},
        InvalidValue{"notify.webhookUrl", "ftp://hooks.example/bridge"},
        InvalidValue{"notify.webhookUrl", "http://hooks.example/bridge"}),
    [](const auto& info) { return testNameOf(info.param.key) + "_" + std::to_string(info.index); });

// --- notify.webhookUrl and notify.secret ---

const std::string kWebhookSecret = "a-webhook-secret-of-at-least-32-bytes!";

std::string webhookRefusal(const std::string& url, const std::string& secret) {
    try {
        loadProperties("notify.webhookUrl=" + url + "\nnotify.secret=" + secret + "\n");
    } catch (const ConfigError& error) {
        return error.what();
    }
    return "";
}

TEST(WebhookConfigTest, HttpsAnywhereAndPlainHttpToLoopbackAreAccepted) {
    for (const std::string url :
         {"https://hooks.example/bridge", "https://hooks.example:8443", "http://127.0.0.1:9000/h",
          "http://[::1]:9000/h", "http://localhost/h", "http://LocalHost:80"}) {
        EXPECT_EQ(webhookRefusal(url, kWebhookSecret), "") << url;
    }
    const Config config = loadProperties("notify.webhookUrl=https://hooks.example/b\nnotify.secret=" + kWebhookSecret);
    EXPECT_EQ(config.notify.webhookUrl, "https://hooks.example/b");
    EXPECT_EQ(config.notify.secret, kWebhookSecret);
    EXPECT_TRUE(loadProperties("").notify.webhookUrl.empty());  // no URL: no notifications, no secret needed
}

TEST(WebhookConfigTest, PlainHttpToAnyOtherHostIsRefused) {
    for (const std::string url : {"http://hooks.example/h", "http://127.0.0.2/h", "http://localhost.evil.example/h",
                                  "http://127.0.0.1@evil.example/h", "http://", "https:///path"}) {
        const std::string refusal = webhookRefusal(url, kWebhookSecret);
        EXPECT_NE(refusal.find("notify.webhookUrl"), std::string::npos) << url << ": " << refusal;
    }
}

TEST(WebhookConfigTest, MissingOrShortSecretIsRefusedWithoutEchoingIt) {
    EXPECT_NE(webhookRefusal("https://hooks.example/h", "").find("notify.secret"), std::string::npos);
    const std::string shortSecret = "only-31-bytes-long-secret-value";
    const std::string refusal = webhookRefusal("https://hooks.example/h", shortSecret);
    EXPECT_NE(refusal.find("at least 32 bytes"), std::string::npos) << refusal;
    EXPECT_EQ(refusal.find(shortSecret), std::string::npos) << refusal;
}

// --- what serve refuses to start with ---

std::string validKeys() { return "k1:" + base64Encode(randomBytes(32)); }

const std::string kSecret = "a-signing-secret-of-at-least-thirty-two-bytes";

Config serveConfig(std::string keys, std::string jwtSecret) {
    Config config;
    config.crypto.keys = std::move(keys);
    config.admin.jwtSecret = std::move(jwtSecret);
    return config;
}

std::string refusalOf(const Config& config) {
    try {
        app::checkServeConfig(config);
    } catch (const ConfigError& error) {
        return error.what();
    }
    return "";
}

TEST(ServeConfigTest, CompleteConfigurationIsAccepted) {
    EXPECT_NO_THROW(app::checkServeConfig(serveConfig(validKeys(), kSecret)));
}

TEST(ServeConfigTest, MissingCryptoKeysIsRefusedNamingTheKey) {
    EXPECT_NE(refusalOf(serveConfig("", kSecret)).find("crypto.keys"), std::string::npos);
}

TEST(ServeConfigTest, MissingJwtSecretIsRefusedNamingTheKey) {
    EXPECT_NE(refusalOf(serveConfig(validKeys(), "")).find("admin.jwtSecret"), std::string::npos);
}

TEST(ServeConfigTest, JwtSecretShorterThanThirtyTwoBytesIsRefusedWithoutEchoingIt) {
    const std::string refusal = refusalOf(serveConfig(validKeys(), std::string(31, 'q')));
    EXPECT_NE(refusal.find("admin.jwtSecret is too short: 31 bytes, at least 32"), std::string::npos) << refusal;
    EXPECT_EQ(refusal.find(std::string(31, 'q')), std::string::npos) << refusal;
    EXPECT_NO_THROW(app::checkServeConfig(serveConfig(validKeys(), std::string(32, 'q'))));
}

TEST(ServeConfigTest, ActiveKeyOutsideTheKeysIsRefused) {
    Config config = serveConfig(validKeys(), kSecret);
    config.crypto.activeKey = "retired";
    EXPECT_NE(refusalOf(config).find("crypto.keys"), std::string::npos);
}

TEST(ServeConfigTest, MalformedKeysAreRefusedWithoutEchoingTheirMaterial) {
    const std::string shortMaterial = base64Encode("sixteen byte key");
    const std::string notBase64 = "c2VjcmV0LW1hdGVyaWFs!!";
    const std::string longMaterial = base64Encode(std::string(48, 'x'));
    for (const std::string& keys : {"k1:" + shortMaterial, "k1:" + notBase64, "k1:" + longMaterial,
                                    "no-id-separator" + shortMaterial, validKeys() + ",k1:" + shortMaterial}) {
        SCOPED_TRACE(keys);
        const std::string refusal = refusalOf(serveConfig(keys, kSecret));
        EXPECT_NE(refusal.find("crypto.keys"), std::string::npos) << refusal;
        for (const std::string& material : {shortMaterial, notBase64, longMaterial}) {
            EXPECT_EQ(refusal.find(material), std::string::npos) << refusal;
        }
    }
}

}  // namespace
}  // namespace bridge
