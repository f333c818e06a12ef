// `bridge rekey` end to end (issue 15, "Online re-encryption under a new key"), on a SQLite file and on the real
// MariaDB server: `bridge serve` processes sealed tokens under an old key; the rekey re-seals them under the new one
// while an instance serves; then the old key is dropped from crypto.keys, the server restarted, and the broker,
// both panels and a login begun before the rekey still work. A rerun re-seals nothing, a run killed with SIGKILL
// and run again ends with everything re-sealed, a refresh re-seals the refresh token it presented, and a key missing
// for a row answers 503 STORE_UNAVAILABLE with a key_missing event, never a 500.
#include <Poco/JSON/Array.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ServerHarness.h"
#include "bridge/crypto/Secrets.h"
#include "bridge/crypto/TokenCipher.h"
#include "bridge/services/Connectivity.h"
#include "bridge/store/StoreFactory.h"
#include "migrations/SchemaCatalog.h"
#include "testsupport/ChildProcess.h"
#include "testsupport/MariaDbServer.h"
#include "testsupport/ServeProcess.h"
#include "testsupport/StandinProcess.h"
#include "testsupport/TestDirectory.h"

namespace bridge::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testsupport::ChildProcess;
using testsupport::ServeProcess;
using testsupport::StandinProcess;

const std::string kJwtSecret = "rekey-test-admin-signing-secret-of-40-bytes";
const std::string kOldKey = "old:" + base64Encode(std::string(32, 'o'));
const std::string kNewKey = "new:" + base64Encode(std::string(32, 'n'));
const std::string kCallbackUrl = "http://bridge.example/oauth/salesforce/callback";
const std::string kLegacyPage = "https://legacy.example/sf";
const std::string kModernPage = "https://modern.example/crm";
const std::string kAccessTokenPath = "/internal/v1/salesforce/access-token";
constexpr auto kRunTimeout = 120s;

std::string signedToken(const std::string& role) {
    Poco::JWT::Token token;
    token.setType("JWT");
    token.setSubject(role + "-rekey-test");
    token.payload().set("role", role);
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    token.setExpiration(Poco::Timestamp::fromEpochTime((now + std::chrono::hours(1)).time_since_epoch().count()));
    return Poco::JWT::Signer(kJwtSecret).sign(token, Poco::JWT::Signer::ALGO_HS256);
}

struct Finished {
    int exitCode = -1;
    std::vector<std::string> out;  // standard output, line by line
    std::string err;
    std::string summary() const { return out.empty() ? std::string() : out.back(); }
};

std::string readAll(Poco::Pipe& pipe) {
    Poco::PipeInputStream stream(pipe);
    std::string text;
    Poco::StreamCopier::copyToString(stream, text);
    return text;
}

std::vector<std::string> linesOf(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream stream(text);
    for (std::string line; std::getline(stream, line);) lines.push_back(line);
    return lines;
}

std::string summaryLine(int rewritten, int alreadyCurrent, int skipped) {
    return "rewritten " + std::to_string(rewritten) + ", already current " + std::to_string(alreadyCurrent) +
           ", skipped " + std::to_string(skipped) + ", busy 0, failed 0";
}

struct Profile {
    std::string id;
    std::int64_t legacyOrgId = 0;
    std::int64_t legacyUserId = 0;
};

enum class Backend { Sqlite, MariaDb };

class RekeyTest : public ::testing::TestWithParam<Backend> {
protected:
    static void SetUpTestSuite() { mariadb_ = new testsupport::MariaDbServer(); }
    static void TearDownTestSuite() {
        delete mariadb_;
        mariadb_ = nullptr;
    }

    void SetUp() override {
        directory_ = testsupport::freshTestDirectory("bridge-rekey-test");
        if (GetParam() == Backend::Sqlite) {
            dsn_ = "sqlite:" + (directory_ / "bridge.db").string();
        } else {
            const std::string name = "rekey_" + std::to_string(++databases_);
            mariadb_->createDatabase(name);
            mariadb_->createUser(name, "secret", name);
            dsn_ = mariadb_->dsn(name, name, "secret");
        }
    }
    void TearDown() override {
        server_.reset();
        std::filesystem::remove_all(directory_);
    }

    std::map<std::string, std::string> environment(const std::string& cryptoKeys) const {
        return {{"BRIDGE_HTTP_PORT", "0"},
                {"BRIDGE_STORE_DSN", dsn_},
                {"BRIDGE_CRYPTO_KEYS", cryptoKeys},
                {"BRIDGE_ADMIN_JWTSECRET", kJwtSecret},
                {"BRIDGE_SALESFORCE_CLIENTID", salesforce_.clientId()},
                {"BRIDGE_SALESFORCE_CLIENTSECRET", salesforce_.clientSecret()},
                {"BRIDGE_SALESFORCE_LOGINURL_PRODUCTION", salesforce_.baseUrl()},
                {"BRIDGE_SALESFORCE_LOGINURL_SANDBOX", salesforce_.baseUrl()},
                {"BRIDGE_SALESFORCE_CALLBACKURL", kCallbackUrl},
                {"BRIDGE_PANEL_LEGACY_RETURNURL", kLegacyPage},
                {"BRIDGE_PANEL_MODERN_RETURNURL", kModernPage},
                {"BRIDGE_LOG_LEVEL", "info"}};
    }

    // Stops the running instance (if any) and starts one with these keys.
    void serveWith(const std::string& cryptoKeys) {
        server_.reset();
        server_ = std::make_unique<ServeProcess>(environment(cryptoKeys));
    }
    int port() const { return server_->port(); }

    Finished rekey(const std::string& cryptoKeys, const std::vector<std::string>& extra = {}) const {
        std::vector<std::string> arguments{"rekey"};
        arguments.insert(arguments.end(), extra.begin(), extra.end());
        const auto variables = environment(cryptoKeys);
        Poco::Pipe out;
        Poco::Pipe err;
        Poco::ProcessHandle process = Poco::Process::launch(BRIDGE_EXECUTABLE, arguments, "", nullptr, &out, &err,
                                                            Poco::Process::Env(variables.begin(), variables.end()));
        Finished finished;
        finished.out = linesOf(readAll(out));
        finished.err = readAll(err);
        finished.exitCode = process.wait();
        return finished;
    }

    // A profile with one user, connected through the legacy panel with a service account of its own.
    Profile connectedProfile(const std::string& name) {
        const std::string support = signedToken("support");
        const HttpResult created =
            httpCall(port(), "POST", "/api/v2/profiles", support, R"({"name": ")" + name + R"("})");
        EXPECT_EQ(created.status, 201) << created.body;
        Profile profile{created.json()->getValue<std::string>("id"),
                        created.json()->getValue<std::int64_t>("legacyOrgId"), 0};
        const HttpResult user = httpCall(port(), "POST", "/api/v2/profiles/" + profile.id + "/users", support,
                                         R"({"email": "ann@)" + profile.id + R"(.example", "displayName": "Ann"})");
        EXPECT_EQ(user.status, 201) << user.body;
        profile.legacyUserId = user.json()->getValue<std::int64_t>("legacyUserId");

        const std::string path = legacyPath(profile);
        EXPECT_EQ(httpCall(port(), "PUT", path, support, R"({"loginUsingServiceAccount": true})").status, 200);
        const HttpResult started =
            httpCall(port(), "POST", path + "/connect", support, R"({"environment": "production"})");
        EXPECT_EQ(started.status, 200) << started.body;
        char userId[16];
        std::snprintf(userId, sizeof userId, "005%012lld", static_cast<long long>(profile.legacyOrgId));
        char organizationId[16];
        std::snprintf(organizationId, sizeof organizationId, "00D%012lld", static_cast<long long>(profile.legacyOrgId));
        salesforce_.setIdentity({.userId = userId,
                                 .organizationId = organizationId,
                                 .username = "svc-" + profile.id + "@rekey.example",
                                 .email = "svc-" + profile.id + "@rekey.example"});
        const std::string redirect = salesforce_.followAuthorization(
            started.json()->getObject("data")->getValue<std::string>("authorizationUrl"));
        const HttpResult finished = httpCall(port(), "GET", Poco::URI(redirect).getPathAndQuery());
        EXPECT_EQ(finished.status, 302) << finished.body;
        EXPECT_EQ(finished.header("Location"), kLegacyPage + "?connectivity=connected");
        return profile;
    }

    // A login begun through the new panel and approved at Salesforce, whose callback has not reached the server
    // yet: the callback's path and query.
    std::string pendingLogin(const Profile& profile) {
        const HttpResult login = httpCall(port(), "POST", "/api/v2/profiles/" + profile.id + "/connectivity/crm/login",
                                          signedToken("support"), R"({"environment": "production"})");
        EXPECT_EQ(login.status, 200) << login.body;
        return Poco::URI(salesforce_.followAuthorization(login.json()->getValue<std::string>("authorizationUrl")))
            .getPathAndQuery();
    }

    static std::string legacyPath(const Profile& profile) {
        return "/legacy/api/organizations/" + std::to_string(profile.legacyOrgId) + "/salesforce-connectivity";
    }

    HttpResult broker(const Profile& profile) const {
        return httpCall(port(), "POST", kAccessTokenPath, signedToken("sync-engine"),
                        R"({"legacyUserId": )" + std::to_string(profile.legacyUserId) + R"(, "client": "sync"})");
    }
    void invalidate(const Profile& profile) const {
        const HttpResult answer = httpCall(port(), "POST", kAccessTokenPath + "/invalidate", signedToken("sync-engine"),
                                           R"({"legacyUserId": )" + std::to_string(profile.legacyUserId) + "}");
        EXPECT_EQ(answer.status, 204) << answer.body;
    }

    // The profile's events as "type detail", newest first.
    std::vector<std::string> events(const Profile& profile) const {
        const HttpResult answer = httpCall(
            port(), "GET", "/api/v2/profiles/" + profile.id + "/connectivity/events?limit=100", signedToken("support"));
        EXPECT_EQ(answer.status, 200) << answer.body;
        std::vector<std::string> listed;
        if (answer.status != 200) return listed;
        const auto items = answer.json()->getArray("items");
        for (std::size_t i = 0; i < items->size(); ++i) {
            const auto item = items->getObject(i);
            listed.push_back(item->getValue<std::string>("type") +
                             (item->isNull("detail") ? "" : " " + item->getValue<std::string>("detail")));
        }
        return listed;
    }
    static long countStartingWith(const std::vector<std::string>& lines, const std::string& prefix) {
        return std::count_if(lines.begin(), lines.end(),
                             [&](const std::string& line) { return line.rfind(prefix, 0) == 0; });
    }

    // Sealed values of the store under a key other than `keyId`, read by a store of the test's own.
    std::int64_t valuesNotUnder(const std::string& keyId) const {
        const auto store = openStore(dsn_, 1);
        std::int64_t count = 0;
        for (SealedColumn column :
             {SealedColumn::RefreshToken, SealedColumn::AccessToken, SealedColumn::CodeVerifier}) {
            count += store->countSealedNotUnder(column, keyId);
        }
        return count;
    }

    static inline testsupport::MariaDbServer* mariadb_ = nullptr;
    static inline int databases_ = 0;
    std::filesystem::path directory_;
    std::string dsn_;
    StandinProcess salesforce_;
    std::unique_ptr<ServeProcess> server_;
};

TEST_P(RekeyTest, ResealedUnderTheNewKeyTheOldKeyIsDroppedAndEverythingStillWorks) {
    serveWith(kOldKey);
    const Profile profile = connectedProfile("Acme");
    const HttpResult minted = broker(profile);
    ASSERT_EQ(minted.status, 200) << minted.body;
    const std::string accessToken = minted.json()->getValue<std::string>("accessToken");
    const std::string callback = pendingLogin(profile);

    // The new key first, the old one second, on every instance; then the rekey while the instance serves.
    serveWith(kNewKey + "," + kOldKey);
    // The refresh token, the access token and two code verifiers (the finished login's and the pending one's).
    ASSERT_EQ(valuesNotUnder("new"), 4);
    const Finished run = rekey(kNewKey + "," + kOldKey, {"--batch-size", "1"});
    EXPECT_EQ(run.exitCode, 0) << run.err;
    EXPECT_EQ(run.out, std::vector<std::string>{summaryLine(4, 0, 0)}) << run.err;
    EXPECT_NE(run.err.find("4/4 sealed values (100%)"), std::string::npos) << "progress on stderr:\n" << run.err;
    EXPECT_EQ(valuesNotUnder("new"), 0);
    EXPECT_EQ(broker(profile).status, 200) << "the instance served throughout";

    const Finished rerun = rekey(kNewKey + "," + kOldKey);
    EXPECT_EQ(rerun.exitCode, 0) << rerun.err;
    EXPECT_EQ(rerun.out, std::vector<std::string>{summaryLine(0, 4, 0)}) << rerun.err;

    // The old key removed from crypto.keys: the stored access token is served as it is, without Salesforce.
    serveWith(kNewKey);
    const std::int64_t refreshesBefore = salesforce_.counter("refreshCalls");
    const HttpResult cached = broker(profile);
    ASSERT_EQ(cached.status, 200) << cached.body;
    EXPECT_EQ(cached.json()->getValue<std::string>("accessToken"), accessToken);
    EXPECT_EQ(salesforce_.counter("refreshCalls"), refreshesBefore);
    // The refresh token still refreshes.
    invalidate(profile);
    const HttpResult refreshed = broker(profile);
    ASSERT_EQ(refreshed.status, 200) << refreshed.body;
    EXPECT_NE(refreshed.json()->getValue<std::string>("accessToken"), accessToken);
    EXPECT_EQ(salesforce_.counter("refreshCalls"), refreshesBefore + 1);
    // Both panels read the connection, and the login begun before the rekey finishes.
    const HttpResult legacy = httpCall(port(), "GET", legacyPath(profile), signedToken("support"));
    ASSERT_EQ(legacy.status, 200) << legacy.body;
    EXPECT_EQ(legacy.json()->getObject("data")->getValue<std::string>("connectionStatus"), "Established");
    const HttpResult finished = httpCall(port(), "GET", callback);
    EXPECT_EQ(finished.status, 302) << finished.body;
    EXPECT_EQ(finished.header("Location"), kModernPage + "?connectivity=connected");
    const HttpResult modern =
        httpCall(port(), "GET", "/api/v2/profiles/" + profile.id + "/connectivity", signedToken("support"));
    ASSERT_EQ(modern.status, 200) << modern.body;
    const auto history = events(profile);
    EXPECT_EQ(countStartingWith(history, "key_missing"), 0);
    EXPECT_EQ(countStartingWith(history, "access_token_refused"), 0);
    // And the replaced token was revoked at Salesforce: it opened under the new key.
    EXPECT_GE(salesforce_.counter("revocations"), 1);
}

TEST_P(RekeyTest, ARunKilledWithSigkillAndRunAgainEndsWithEveryValueResealedOnce) {
    constexpr int kOrganizations = 2000;
    const TokenCipher before = TokenCipher::fromSpec(kOldKey);
    {
        const auto store = openStore(dsn_, 1);
        migrations::upgradeSchema(*store);
        std::vector<MigratedOrganization> batch;
        for (int i = 1; i <= kOrganizations; ++i) {
            MigratedOrganization migrated;
            migrated.organization = Organization{i, "Org " + std::to_string(i)};
            migrated.legacyFingerprint = "fingerprint";
            Connection connection;
            connection.orgId = i;
            connection.serviceAccountLoginEnabled = true;
            connection.status = ConnectionStatus::Connected;
            connection.environment = Environment::Production;
            connection.refreshToken =
                before.seal("refresh-token-" + std::to_string(i), Connectivity::refreshTokenAssociatedData(i));
            migrated.connection = connection;
            batch.push_back(std::move(migrated));
            if (batch.size() == 500) {
                store->writeMigratedOrganizations(batch);
                batch.clear();
            }
        }
    }
    ASSERT_EQ(valuesNotUnder("new"), kOrganizations);

    {
        auto variables = environment(kNewKey + "," + kOldKey);
        ChildProcess killed(
            {.executable = BRIDGE_EXECUTABLE, .arguments = {"rekey", "--batch-size", "5"}, .environment = variables});
        const auto store = openStore(dsn_, 1);
        const auto deadline = Clock::now() + kRunTimeout;
        while (store->countSealedNotUnder(SealedColumn::RefreshToken, "new") > kOrganizations * 4 / 5 &&
               killed.running() && Clock::now() < deadline) {
            std::this_thread::sleep_for(2ms);
        }
        EXPECT_EQ(killed.kill(), 128 + SIGKILL) << "ended before it was killed:\n" << killed.output();
    }
    const std::int64_t left = valuesNotUnder("new");
    EXPECT_GT(left, 0);
    EXPECT_LT(left, kOrganizations);

    const Finished completed = rekey(kNewKey + "," + kOldKey, {"--batch-size", "50"});
    EXPECT_EQ(completed.exitCode, 0) << completed.err;
    EXPECT_EQ(completed.out, std::vector<std::string>{
                                 summaryLine(static_cast<int>(left), kOrganizations - static_cast<int>(left), 0)});
    const Finished again = rekey(kNewKey + "," + kOldKey);
    EXPECT_EQ(again.out, std::vector<std::string>{summaryLine(0, kOrganizations, 0)});

    const TokenCipher after = TokenCipher::fromSpec(kNewKey);
    const auto store = openStore(dsn_, 1);
    for (int i = 1; i <= kOrganizations; ++i) {
        const Connection connection = store->loadConnection(i);
        ASSERT_TRUE(connection.refreshToken) << i;
        ASSERT_EQ(after.open(*connection.refreshToken, Connectivity::refreshTokenAssociatedData(i)),
                  "refresh-token-" + std::to_string(i));
    }
}

TEST_P(RekeyTest, ARefreshResealsThePresentedRefreshTokenUnderTheNewKey) {
    serveWith(kOldKey);
    const Profile profile = connectedProfile("Refreshed");
    ASSERT_EQ(broker(profile).status, 200);
    const auto store = openStore(dsn_, 1);
    ASSERT_EQ(store->loadConnection(profile.legacyOrgId).refreshToken->keyId, "old");

    serveWith(kNewKey + "," + kOldKey);
    invalidate(profile);
    const HttpResult refreshed = broker(profile);
    ASSERT_EQ(refreshed.status, 200) << refreshed.body;
    const Connection connection = store->loadConnection(profile.legacyOrgId);
    EXPECT_EQ(connection.refreshToken->keyId, "new");
    EXPECT_EQ(store->loadAccessToken(profile.legacyOrgId)->token.keyId, "new");
    // The same token, only sealed again: no rotation recorded.
    EXPECT_EQ(countStartingWith(events(profile), "refresh_token_rotated"), 0);

    // Without the old key it still refreshes.
    serveWith(kNewKey);
    invalidate(profile);
    EXPECT_EQ(broker(profile).status, 200);
}

TEST_P(RekeyTest, AKeyMissingForARowAnswers503WithAKeyMissingEventNeverA500) {
    serveWith(kOldKey);
    const Profile profile = connectedProfile("Key lost");
    const Profile other = connectedProfile("Disconnected without its key");
    ASSERT_EQ(broker(profile).status, 200);
    const std::string callback = pendingLogin(profile);

    // The old key dropped without a rekey.
    serveWith(kNewKey);
    for (int attempt = 0; attempt < 2; ++attempt) {
        const HttpResult refused = broker(profile);
        EXPECT_EQ(refused.status, 503) << refused.body;
        ASSERT_EQ(refused.json()->getValue<std::string>("code"), "STORE_UNAVAILABLE") << refused.body;
        EXPECT_NE(refused.json()->getValue<std::string>("detail").find("configured keys"), std::string::npos)
            << refused.body;
    }
    auto history = events(profile);
    EXPECT_EQ(countStartingWith(history, "key_missing refresh token sealed under key 'old'"), 1)
        << "one event per instance, not per request";
    const HttpResult legacy = httpCall(port(), "GET", legacyPath(profile), signedToken("support"));
    EXPECT_EQ(legacy.status, 200) << legacy.body;
    // The login begun under the old key cannot finish; the browser goes back to its panel with a reason.
    const HttpResult finished = httpCall(port(), "GET", callback);
    EXPECT_EQ(finished.status, 302) << finished.body;
    EXPECT_EQ(finished.header("Location"), kModernPage + "?connectivity=error&reason=TOKEN_EXCHANGE_FAILED");
    history = events(profile);
    EXPECT_EQ(countStartingWith(history, "key_missing code verifier"), 1);
    // Disconnecting still works; the token it cannot open is not revoked, and the event says so.
    const HttpResult disconnected =
        httpCall(port(), "DELETE", "/api/v2/profiles/" + other.id + "/connectivity/crm", signedToken("support"));
    EXPECT_EQ(disconnected.status, 204) << disconnected.body;
    EXPECT_EQ(countStartingWith(events(other), "key_missing refresh token sealed under key 'old'"), 1);

    // The rekey reports what no configured key opens and exits 3.
    const Finished run = rekey(kNewKey);
    EXPECT_EQ(run.exitCode, 3) << run.err;
    ASSERT_FALSE(run.out.empty());
    const auto report = std::vector<std::string>(run.out.begin(), run.out.end() - 1);
    EXPECT_EQ(countStartingWith(report,
                                "skipped refresh token of organization " + std::to_string(profile.legacyOrgId) + ": "),
              1);
    EXPECT_EQ(
        countStartingWith(report, "skipped access token of organization " + std::to_string(profile.legacyOrgId) + ": "),
        1);
    EXPECT_EQ(countStartingWith(report, "skipped "), static_cast<long>(report.size()));
    EXPECT_EQ(run.summary(), summaryLine(0, 0, static_cast<int>(report.size())));

    // Configuring the key again brings service back, and the rekey then finishes.
    serveWith(kNewKey + "," + kOldKey);
    EXPECT_EQ(broker(profile).status, 200);
    EXPECT_EQ(rekey(kNewKey + "," + kOldKey).exitCode, 0);
    EXPECT_EQ(valuesNotUnder("new"), 0);
}

INSTANTIATE_TEST_SUITE_P(Stores, RekeyTest, ::testing::Values(Backend::Sqlite, Backend::MariaDb),
                         [](const auto& info) { return info.param == Backend::Sqlite ? "Sqlite" : "MariaDb"; });

}  // namespace
}  // namespace bridge::testing
