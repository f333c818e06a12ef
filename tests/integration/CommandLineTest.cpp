// `bridge` as operators run it: a real child process, its exit code, its output and, for serve, its HTTP port.

#include <Poco/Base64Decoder.h>
#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketStream.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Path.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>
#include <Poco/TemporaryFile.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testsupport/ChildProcess.h"
#include "testsupport/ServeProcess.h"

namespace {

using bridge::testsupport::ChildProcess;
using bridge::testsupport::waitForListeningPort;
using Environment = std::map<std::string, std::string>;

// 32 bytes of key material, base64: what crypto.keys needs per key.
const std::string kKeyMaterial = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const std::string kJwtSecret = "command-line-test-signing-secret-of-40-bytes";

struct Finished {
    int exitCode;
    std::string out;
    std::string err;
};

std::string readAll(Poco::Pipe& pipe) {
    Poco::PipeInputStream stream(pipe);
    std::string text;
    Poco::StreamCopier::copyToString(stream, text);
    return text;
}

// Runs `bridge arguments...` to its end. The outputs of these subcommands are far smaller than a pipe's buffer,
// so reading standard output to its end before standard error cannot block the child.
Finished runBridge(const std::vector<std::string>& arguments, const Environment& environment = {}) {
    Poco::Pipe out;
    Poco::Pipe err;
    Poco::ProcessHandle process = Poco::Process::launch(BRIDGE_EXECUTABLE, arguments, "", nullptr, &out, &err,
                                                        Poco::Process::Env(environment.begin(), environment.end()));
    Finished finished{0, readAll(out), readAll(err)};
    finished.exitCode = process.wait();
    return finished;
}

std::string base64UrlDecode(std::string text) {
    for (char& c : text) c = c == '-' ? '+' : c == '_' ? '/' : c;
    text.append((4 - text.size() % 4) % 4, '=');
    std::istringstream encoded(text);
    Poco::Base64Decoder decoder(encoded);
    std::string decoded;
    Poco::StreamCopier::copyToString(decoder, decoded);
    return decoded;
}

// The claims of a JWT whose signature is HS256 under `secret`.
Poco::JSON::Object::Ptr verifiedClaims(const std::string& jwt, const std::string& secret) {
    Poco::JWT::Token verified;
    EXPECT_TRUE(Poco::JWT::Signer(secret).tryVerify(jwt, verified)) << "not signed HS256 with the secret: " << jwt;
    const auto firstDot = jwt.find('.');
    const auto secondDot = jwt.find('.', firstDot + 1);
    const auto header = Poco::JSON::Parser().parse(base64UrlDecode(jwt.substr(0, firstDot)));
    EXPECT_EQ(header.extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("alg"), "HS256");
    return Poco::JSON::Parser()
        .parse(base64UrlDecode(jwt.substr(firstDot + 1, secondDot - firstDot - 1)))
        .extract<Poco::JSON::Object::Ptr>();
}

struct HttpAnswer {
    int status;
    std::string body;
};

HttpAnswer httpGet(int port, const std::string& path, const std::string& bearerToken = {}) {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(5, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!bearerToken.empty()) request.set("Authorization", "Bearer " + bearerToken);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    HttpAnswer answer{0, {}};
    Poco::StreamCopier::copyToString(session.receiveResponse(response), answer.body);
    answer.status = response.getStatus();
    return answer;
}

class CommandLineTest : public ::testing::Test {
protected:
    void SetUp() override { Poco::File(directory_).createDirectories(); }
    void TearDown() override { Poco::File(directory_).remove(true); }

    std::string pathOf(const std::string& name) const { return Poco::Path(directory_, name).toString(); }

    std::string writeFile(const std::string& name, const std::string& content) const {
        Poco::FileOutputStream(pathOf(name)) << content;
        return pathOf(name);
    }

    bool exists(const std::string& name) const { return Poco::File(pathOf(name)).exists(); }

    // Everything serve needs, its store in this test's directory.
    Environment serveEnvironment() const {
        return {{"BRIDGE_STORE_DSN", "sqlite:" + pathOf("bridge.db")},
                {"BRIDGE_CRYPTO_KEYS", "k1:" + kKeyMaterial},
                {"BRIDGE_ADMIN_JWTSECRET", kJwtSecret},
                {"BRIDGE_HTTP_PORT", "0"}};
    }

    const Poco::Path directory_{Poco::TemporaryFile::tempName()};
};

// --- help and usage ---

TEST_F(CommandLineTest, HelpListsEverySubcommandAndTheEnvironmentRule) {
    const Finished help = runBridge({"--help"});
    EXPECT_EQ(help.exitCode, 0) << help.err;
    for (const std::string expected : {"serve", "schema", "token", "demo", "--config FILE", "BRIDGE_STORE_DSN"}) {
        EXPECT_NE(help.out.find(expected), std::string::npos) << expected << " missing from:\n" << help.out;
    }
}

struct SubcommandOptions {
    std::string subcommand;
    std::vector<std::string> options;
};

void PrintTo(const SubcommandOptions& subcommand, std::ostream* out) { *out << subcommand.subcommand; }

class SubcommandHelpTest : public ::testing::TestWithParam<SubcommandOptions> {};

TEST_P(SubcommandHelpTest, ListsEveryOptionOnStandardOutput) {
    const Finished help = runBridge({GetParam().subcommand, "--help"});
    EXPECT_EQ(help.exitCode, 0) << help.err;
    EXPECT_NE(help.out.find("bridge " + GetParam().subcommand), std::string::npos) << help.out;
    for (const std::string& option : GetParam().options) {
        EXPECT_NE(help.out.find(option), std::string::npos) << option << " missing from:\n" << help.out;
    }
}

INSTANTIATE_TEST_SUITE_P(
    CommandLine, SubcommandHelpTest,
    ::testing::Values(
        SubcommandOptions{"serve",
                          {"--config", "--help", "http.internalPort", "http.internalThreads", "http.headTimeoutSeconds",
                           "http.bodyTimeoutSeconds", "http.keepAliveSeconds", "http.maxConnections",
                           "salesforce.trustedDomains", "notify.webhookUrl", "notify.secret", "notify.timeoutMs",
                           "notify.retryInitialMs", "notify.retryForHours", "notify.pollMs"}},
        SubcommandOptions{"schema", {"--config", "--help"}},
        SubcommandOptions{"token", {"--config", "--help", "--role", "--org", "--ttl", "--sub"}},
        SubcommandOptions{"demo", {"--config", "--help"}},
        SubcommandOptions{"migrate",
                          {"--config", "--help", "--verify", "--dry-run", "--org=ID[,ID...]", "--orgs-from=FILE",
                           "not found organization", "already current", "nothing written"}},
        SubcommandOptions{"rekey", {"--config", "--help", "--batch-size"}}),
    [](const auto& info) { return info.param.subcommand; });

TEST_F(CommandLineTest, BadUsageExitsTwoAndSaysWhy) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> badUsages{
        {{}, "usage: bridge"},
        {{"frobnicate"}, "unknown subcommand 'frobnicate'"},
        {{"schema", "--frobnicate"}, "frobnicate"},
        {{"schema", "stray"}, "stray"},
        {{"token", "--role"}, "role"},
    };
    for (const auto& [arguments, reason] : badUsages) {
        const Finished run = runBridge(arguments);
        SCOPED_TRACE(run.err);
        EXPECT_EQ(run.exitCode, 2);
        EXPECT_NE(run.err.find(reason), std::string::npos);
    }
}

// --- serve refuses a configuration it cannot run with ---

TEST_F(CommandLineTest, ServeWithoutCryptoKeysExitsTwo) {
    Environment environment = serveEnvironment();
    environment.erase("BRIDGE_CRYPTO_KEYS");
    const Finished serve = runBridge({"serve"}, environment);
    EXPECT_EQ(serve.exitCode, 2);
    EXPECT_NE(serve.err.find("crypto.keys is required"), std::string::npos) << serve.err;
}

TEST_F(CommandLineTest, ServeWithoutJwtSecretExitsTwo) {
    Environment environment = serveEnvironment();
    environment.erase("BRIDGE_ADMIN_JWTSECRET");
    const Finished serve = runBridge({"serve"}, environment);
    EXPECT_EQ(serve.exitCode, 2);
    EXPECT_NE(serve.err.find("admin.jwtSecret is required"), std::string::npos) << serve.err;
}

TEST_F(CommandLineTest, ServeWithMalformedKeyExitsTwoWithoutEchoingIt) {
    const std::string truncatedMaterial = kKeyMaterial.substr(0, 24);
    for (const std::string& keys : {"k1:" + truncatedMaterial, "k1" + kKeyMaterial, "k1:" + kKeyMaterial + "!"}) {
        Environment environment = serveEnvironment();
        environment["BRIDGE_CRYPTO_KEYS"] = keys;
        const Finished serve = runBridge({"serve"}, environment);
        SCOPED_TRACE(serve.err);
        EXPECT_EQ(serve.exitCode, 2);
        EXPECT_NE(serve.err.find("crypto.keys"), std::string::npos);
        EXPECT_EQ(serve.err.find(truncatedMaterial), std::string::npos);
    }
}

TEST_F(CommandLineTest, ServeWithAWebhookOverPlainHttpOrAShortSecretExitsTwoWithoutEchoingTheSecret) {
    Environment environment = serveEnvironment();
    environment["BRIDGE_NOTIFY_WEBHOOKURL"] = "http://hooks.example/bridge";
    environment["BRIDGE_NOTIFY_SECRET"] = "a-webhook-secret-of-at-least-32-bytes!";
    const Finished plainHttp = runBridge({"serve"}, environment);
    EXPECT_EQ(plainHttp.exitCode, 2);
    EXPECT_NE(plainHttp.err.find("notify.webhookUrl: plain http is only allowed to 127.0.0.1, ::1 or localhost"),
              std::string::npos)
        << plainHttp.err;

    const std::string shortSecret(31, 'w');
    environment["BRIDGE_NOTIFY_WEBHOOKURL"] = "https://hooks.example/bridge";
    environment["BRIDGE_NOTIFY_SECRET"] = shortSecret;
    const Finished weak = runBridge({"serve"}, environment);
    EXPECT_EQ(weak.exitCode, 2);
    EXPECT_NE(weak.err.find("notify.secret"), std::string::npos) << weak.err;
    EXPECT_EQ(weak.err.find(shortSecret), std::string::npos) << "the message repeats the secret";
}

TEST_F(CommandLineTest, InvalidValueOrMissingFileExitsTwoNamingIt) {
    const Finished badPort = runBridge({"schema"}, {{"BRIDGE_HTTP_PORT", "eighty"}});
    EXPECT_EQ(badPort.exitCode, 2);
    EXPECT_NE(badPort.err.find("http.port"), std::string::npos) << badPort.err;

    const Finished missingFile = runBridge({"schema", "--config", pathOf("absent.properties")});
    EXPECT_EQ(missingFile.exitCode, 2);
    EXPECT_NE(missingFile.err.find("absent.properties"), std::string::npos) << missingFile.err;
}

// Refused before anything is opened: no legacy.dsn is configured, and none is needed to say why.
TEST_F(CommandLineTest, MigrateRefusesABadSelectionWithExitTwoNamingTheLine) {
    const std::string pilot = writeFile("pilot.txt", "# the pilot\n1042\n\n7 # Acme\nacme-corp\n");
    const std::vector<std::pair<std::vector<std::string>, std::string>> badUsages{
        {{"migrate", "--org", "12x"}, "--org: '12x' is not a legacy organization id"},
        {{"migrate", "--org", "1,,2"}, "--org: '' is not a legacy organization id"},
        {{"migrate", "--org", "4294967296"}, "--org: '4294967296' is not a legacy organization id"},
        {{"migrate", "--orgs-from", pilot}, "--orgs-from " + pilot + " line 5: 'acme-corp' is not a legacy"},
        {{"migrate", "--orgs-from", pathOf("absent.txt")}, "--orgs-from " + pathOf("absent.txt") + ": cannot be read"},
        {{"migrate", "--orgs-from", writeFile("empty.txt", "# nobody\n")}, "names no organization"},
        {{"migrate", "--verify", "--dry-run"}, "--verify and --dry-run exclude each other"},
    };
    for (const auto& [arguments, reason] : badUsages) {
        const Finished run = runBridge(arguments);
        SCOPED_TRACE(run.err);
        EXPECT_EQ(run.exitCode, 2);
        EXPECT_NE(run.err.find(reason), std::string::npos) << reason;
        EXPECT_EQ(run.out, "");
    }
}

// --- token ---

// The clock the bridge stamps tokens with. std::time() reads the kernel's coarse clock, which can still show the
// last second for a few milliseconds after system_clock has moved on, so a token issued in between looked as if it
// came from the future.
std::int64_t secondsNow() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

TEST_F(CommandLineTest, TokenPrintsASignedJwtWithTheRequestedClaims) {
    const auto before = secondsNow();
    const Finished token =
        runBridge({"token", "--role", "org-admin", "--org", "1042", "--org", "7", "--ttl", "30m", "--sub", "ann"},
                  {{"BRIDGE_ADMIN_JWTSECRET", kJwtSecret}});
    ASSERT_EQ(token.exitCode, 0) << token.err;
    ASSERT_EQ(token.out.back(), '\n');
    const std::string jwt = token.out.substr(0, token.out.size() - 1);
    EXPECT_TRUE(std::regex_match(jwt, std::regex(R"([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)"))) << jwt;

    const auto claims = verifiedClaims(jwt, kJwtSecret);
    EXPECT_EQ(claims->getValue<std::string>("role"), "org-admin");
    EXPECT_EQ(claims->getValue<std::string>("sub"), "ann");
    const auto organizations = claims->getArray("orgs");
    ASSERT_TRUE(organizations);
    ASSERT_EQ(organizations->size(), 2u);
    EXPECT_EQ(organizations->getElement<std::int64_t>(0), 1042);
    EXPECT_EQ(organizations->getElement<std::int64_t>(1), 7);
    const auto expires = claims->getValue<std::int64_t>("exp");
    EXPECT_GE(expires, before + 1800);
    EXPECT_LE(expires, secondsNow() + 1800);
}

TEST_F(CommandLineTest, TokenDefaultsToEightHoursForTheCli) {
    const auto before = secondsNow();
    const Finished token = runBridge({"token", "--role", "sync-engine"}, {{"BRIDGE_ADMIN_JWTSECRET", kJwtSecret}});
    ASSERT_EQ(token.exitCode, 0) << token.err;
    const auto claims = verifiedClaims(token.out.substr(0, token.out.find('\n')), kJwtSecret);
    EXPECT_EQ(claims->getValue<std::string>("role"), "sync-engine");
    EXPECT_EQ(claims->getValue<std::string>("sub"), "cli");
    EXPECT_GE(claims->getValue<std::int64_t>("exp"), before + 8 * 3600);
    EXPECT_LE(claims->getValue<std::int64_t>("exp"), secondsNow() + 8 * 3600);
}

TEST_F(CommandLineTest, TokenRefusesIncompleteOrMalformedRequestsWithExitTwo) {
    const Environment secret{{"BRIDGE_ADMIN_JWTSECRET", kJwtSecret}};
    const std::vector<std::pair<std::vector<std::string>, std::string>> refusals{
        {{"token"}, "--role is required"},
        {{"token", "--sub", "ann"}, "--role is required"},
        {{"token", "--role", "superuser"}, "--role must be"},
        {{"token", "--role", "org-admin"}, "--org"},
        {{"token", "--role", "org-admin", "--org", "forty-two"}, "--org"},
        {{"token", "--role", "org-admin", "--org", "0"}, "--org"},
        {{"token", "--role", "org-admin", "--org", "1042,7"}, "--org"},
        {{"token", "--role", "support", "--ttl", "30x"}, "--ttl"},
        {{"token", "--role", "support", "--ttl", "-5m"}, "--ttl"},
        {{"token", "--role", "support", "--ttl", "1,5h"}, "--ttl"},
        {{"token", "--role", "support", "--org", "1042"}, "--org is only for org-admin tokens"},
        {{"token", "--role", "sync-engine", "--org", "1042"}, "--org is only for org-admin tokens"},
    };
    for (const auto& [arguments, reason] : refusals) {
        const Finished token = runBridge(arguments, secret);
        SCOPED_TRACE(arguments.back() + ": " + token.err);
        EXPECT_EQ(token.exitCode, 2);
        EXPECT_TRUE(token.out.empty());
        EXPECT_NE(token.err.find(reason), std::string::npos);
    }
}

TEST_F(CommandLineTest, TokenWithoutJwtSecretExitsTwo) {
    const Finished token = runBridge({"token", "--role", "support"});
    EXPECT_EQ(token.exitCode, 2);
    EXPECT_NE(token.err.find("admin.jwtSecret"), std::string::npos) << token.err;
}

// HS256 with a short key can be brute-forced offline from any token: neither serve nor token accepts one.
TEST_F(CommandLineTest, JwtSecretShorterThanThirtyTwoBytesIsRefusedWithExitTwo) {
    const std::string shortSecret(31, 's');
    Environment environment = serveEnvironment();
    environment["BRIDGE_ADMIN_JWTSECRET"] = shortSecret;
    const Finished serve = runBridge({"serve"}, environment);
    EXPECT_EQ(serve.exitCode, 2);
    EXPECT_NE(serve.err.find("admin.jwtSecret is too short: 31 bytes, at least 32"), std::string::npos) << serve.err;
    EXPECT_EQ(serve.err.find(shortSecret), std::string::npos) << "the message repeats the secret";

    const Finished token = runBridge({"token", "--role", "support"}, {{"BRIDGE_ADMIN_JWTSECRET", shortSecret}});
    EXPECT_EQ(token.exitCode, 2);
    EXPECT_TRUE(token.out.empty());
    EXPECT_NE(token.err.find("admin.jwtSecret is too short"), std::string::npos) << token.err;

    const Finished exact =
        runBridge({"token", "--role", "support"}, {{"BRIDGE_ADMIN_JWTSECRET", std::string(32, 's')}});
    EXPECT_EQ(exact.exitCode, 0) << exact.err;
}

// --- schema, and where configuration comes from ---

int schemaVersionIn(const std::string& output) {
    std::smatch match;
    if (!std::regex_search(output, match, std::regex(R"(store schema at version (\d+))"))) return -1;
    return std::stoi(match[1]);
}

TEST_F(CommandLineTest, SchemaOnAFreshSqliteFileReportsTheSameVersionTwice) {
    const Environment store{{"BRIDGE_STORE_DSN", "sqlite:" + pathOf("fresh.db")}};
    const Finished first = runBridge({"schema"}, store);
    ASSERT_EQ(first.exitCode, 0) << first.err;
    EXPECT_TRUE(exists("fresh.db"));
    const int version = schemaVersionIn(first.out);
    EXPECT_GT(version, 0) << first.out;

    const Finished second = runBridge({"schema"}, store);
    ASSERT_EQ(second.exitCode, 0) << second.err;
    EXPECT_EQ(schemaVersionIn(second.out), version) << second.out;
}

TEST_F(CommandLineTest, PropertiesFileIsReadAndTheEnvironmentWinsOverIt) {
    const std::string file =
        writeFile("bridge.properties", "store.dsn = sqlite:" + pathOf("from-file.db") + "\nlog.format = xml\n");
    const Environment textLogs{{"BRIDGE_LOG_FORMAT", "text"}};
    const Finished fromFile = runBridge({"schema", "--config", file}, textLogs);
    ASSERT_EQ(fromFile.exitCode, 0) << fromFile.err;
    EXPECT_TRUE(exists("from-file.db"));

    Environment overriding = textLogs;
    overriding["BRIDGE_STORE_DSN"] = "sqlite:" + pathOf("from-environment.db");
    Poco::File(pathOf("from-file.db")).remove();
    const Finished fromEnvironment = runBridge({"schema", "--config", file}, overriding);
    ASSERT_EQ(fromEnvironment.exitCode, 0) << fromEnvironment.err;
    EXPECT_TRUE(exists("from-environment.db"));
    EXPECT_FALSE(exists("from-file.db"));

    const Finished invalidFileValue = runBridge({"schema", "--config", file});
    EXPECT_EQ(invalidFileValue.exitCode, 2);
    EXPECT_NE(invalidFileValue.err.find("log.format"), std::string::npos) << invalidFileValue.err;
}

TEST_F(CommandLineTest, IniFileIsReadAndTheEnvironmentWinsOverIt) {
    const std::string file =
        writeFile("bridge.ini", "[store]\ndsn = sqlite:" + pathOf("from-ini.db") +
                                    "\n[admin]\njwtSecret = ini-file-signing-secret-of-at-least-32-bytes\n");
    const Finished fromFile = runBridge({"schema", "--config", file});
    ASSERT_EQ(fromFile.exitCode, 0) << fromFile.err;
    EXPECT_TRUE(exists("from-ini.db"));

    const Finished iniSigned = runBridge({"token", "--config", file, "--role", "support"});
    ASSERT_EQ(iniSigned.exitCode, 0) << iniSigned.err;
    verifiedClaims(iniSigned.out.substr(0, iniSigned.out.find('\n')), "ini-file-signing-secret-of-at-least-32-bytes");

    const Finished environmentSigned =
        runBridge({"token", "--config", file, "--role", "support"}, {{"BRIDGE_ADMIN_JWTSECRET", kJwtSecret}});
    ASSERT_EQ(environmentSigned.exitCode, 0) << environmentSigned.err;
    verifiedClaims(environmentSigned.out.substr(0, environmentSigned.out.find('\n')), kJwtSecret);
}

// --- serve: listening, answering, draining ---

// The port from serve's "listening on port N" log line.
int listeningPort(ChildProcess& server) {
    const auto port = waitForListeningPort(server, std::chrono::seconds(20));
    if (!port) ADD_FAILURE() << "serve never logged its port; output:\n" << server.output();
    return port.value_or(-1);
}

TEST_F(CommandLineTest, ServeAnswersOnAnEphemeralPortAndDrainsOnSigterm) {
    ChildProcess server({.executable = BRIDGE_EXECUTABLE,
                         .arguments = {"serve"},
                         .environment = serveEnvironment(),
                         .captureStderr = true});
    const int port = listeningPort(server);
    ASSERT_GT(port, 0);
    EXPECT_EQ(httpGet(port, "/healthz").status, 200);
    EXPECT_EQ(httpGet(port, "/readyz").status, 200);

    // A request whose headers are still arriving when SIGTERM comes is in flight: it must still be answered.
    Poco::Net::StreamSocket inFlight(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
    inFlight.setReceiveTimeout(Poco::Timespan(10, 0));
    Poco::Net::SocketStream stream(inFlight);
    stream << "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" << std::flush;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(server.running()) << "serve stopped before its in-flight request was answered";
    stream << "Connection: close\r\n\r\n" << std::flush;
    std::string statusLine;
    std::getline(stream, statusLine);
    EXPECT_EQ(statusLine.rfind("HTTP/1.1 200", 0), 0u) << statusLine;

    EXPECT_EQ(server.waitFor(std::chrono::seconds(15)), 0) << server.output();
    EXPECT_NE(server.output().find("draining"), std::string::npos) << server.output();
}

// The threads of a process, by id, that do not block SIGINT and SIGTERM (from /proc/<pid>/task/<tid>/status), but for
// the main thread: its sigwait unblocks them while it waits, and it is the one meant to take them.
std::vector<std::string> otherThreadsTakingTerminationSignals(pid_t pid) {
    const std::uint64_t terminationSignals = (1ULL << (SIGINT - 1)) | (1ULL << (SIGTERM - 1));
    std::vector<std::string> takers;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        if (task.path().filename() == std::to_string(pid)) continue;
        std::ifstream status(task.path() / "status");
        std::string line;
        while (std::getline(status, line)) {
            if (line.rfind("SigBlk:", 0) != 0) continue;
            const std::uint64_t blocked = std::stoull(line.substr(7), nullptr, 16);
            if ((blocked & terminationSignals) != terminationSignals) takers.push_back(task.path().filename());
        }
    }
    return takers;
}

// serve and demo take SIGTERM in their main thread's sigwait. A thread that does not block it (spdlog's flusher, were
// it started before the mask was set) would take the signal whenever the main thread is not yet waiting, and the
// default action ends the process at once, with no drain (exit 143).
TEST_F(CommandLineTest, NoThreadOfServeOrDemoTakesTheTerminationSignals) {
    ChildProcess server({.executable = BRIDGE_EXECUTABLE,
                         .arguments = {"serve"},
                         .environment = serveEnvironment(),
                         .captureStderr = true});
    ASSERT_GT(listeningPort(server), 0);
    ChildProcess demo({.executable = BRIDGE_EXECUTABLE,
                       .arguments = {"demo"},
                       .environment = {{"BRIDGE_HTTP_PORT", "0"}},
                       .captureStderr = true});
    demo.waitForLine("Operations:", std::chrono::seconds(30));

    EXPECT_EQ(otherThreadsTakingTerminationSignals(server.pid()), std::vector<std::string>{}) << "serve";
    EXPECT_EQ(otherThreadsTakingTerminationSignals(demo.pid()), std::vector<std::string>{}) << "demo";
    EXPECT_EQ(server.terminate(std::chrono::seconds(15)), 0) << server.output();
    EXPECT_EQ(demo.terminate(std::chrono::seconds(15)), 0) << demo.output();
}

TEST_F(CommandLineTest, DemoPrintsAWorkingServerAndTokenAndStopsOnSigterm) {
    ChildProcess demo({.executable = BRIDGE_EXECUTABLE,
                       .arguments = {"demo"},
                       .environment = {{"BRIDGE_HTTP_PORT", "0"}},
                       .captureStderr = true});
    const std::string serverLine = demo.waitForLine("  server:", std::chrono::seconds(30));
    std::smatch match;
    ASSERT_TRUE(std::regex_search(serverLine, match, std::regex(R"(http://localhost:(\d+))"))) << serverLine;
    const int port = std::stoi(match[1]);
    EXPECT_EQ(httpGet(port, "/healthz").status, 200);
    const std::string adminPrefix = "  export ADMIN='";
    const std::string adminLine = demo.waitForLine(adminPrefix);
    const std::string adminToken =
        adminLine.substr(adminPrefix.size(), adminLine.find('\'', adminPrefix.size()) - adminPrefix.size());
    const HttpAnswer organizations = httpGet(port, "/legacy/api/organizations", adminToken);
    EXPECT_EQ(organizations.status, 200) << organizations.body;
    EXPECT_NE(organizations.body.find(R"("id":1042)"), std::string::npos) << organizations.body;

    EXPECT_EQ(demo.terminate(std::chrono::seconds(15)), 0) << demo.output();
}

}  // namespace
