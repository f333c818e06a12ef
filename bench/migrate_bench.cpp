// The migrator's speed (issue "Migration benchmark"): the real `bridge migrate` from a private MariaDB into a
// fresh SQLite store at 10,000 and 100,000 organizations, beside the MariaDB client reading the same rows in the
// same run, its peak memory, a rerun that finds everything current, and the 100,000 into a MariaDB store.
#include <cppconn/connection.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "bridge/crypto/Secrets.h"
#include "testsupport/LegacyDatabase.h"
#include "testsupport/MariaDbServer.h"

namespace {

namespace fs = std::filesystem;
using bridge::testsupport::LegacyDataManifest;
using bridge::testsupport::MariaDbServer;

constexpr std::int64_t kSizes[] = {10'000, 100'000};
constexpr int kUsersPerOrganization = 10;
constexpr std::uint64_t kSeed = 2024;
// The fastest of a few runs counts, the client's as the migrator's: this machine is shared and noisy.
constexpr int kClientReadRuns = 3;
constexpr int kMigrateRuns = 3;
constexpr const char* kPassword = "secret";
// Large enough to hold the legacy rows and both stores' writes, as a production server's would be.
constexpr int kBufferPoolMegabytes = 1024;
constexpr int kRedoLogMegabytes = 256;

constexpr double kTargetSeconds = 60;
constexpr double kTargetRatioToClient = 4;
constexpr double kTargetPeakRssMegabytes = 200;
constexpr double kFlatRssGrowth = 1.25;  // ten times the organizations may cost at most this much more memory

// The rows LegacyReader reads, column for column, each table in one scan.
constexpr const char* kClientReadStatements =
    "SELECT id, name, DATE_FORMAT(created_at, '%Y-%m-%d %H:%i:%s'), is_deleted FROM organizations; "
    "SELECT org_id, sa_login_enabled, auth_method, sf_environment, sa_user_id, sa_username, sf_org_id, "
    "instance_url, refresh_token_enc, status, DATE_FORMAT(status_changed_at, '%Y-%m-%d %H:%i:%s'), last_error, "
    "DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s') FROM org_salesforce_connectivity; "
    "SELECT id, org_id, email, display_name, sf_user_id, is_active, sync_state, sync_error FROM org_users";

struct ChildRun {
    int exitStatus = -1;  // the exit code, or 128 + the signal
    double seconds = 0;
    double peakRssMegabytes = 0;
};

// Runs a program (looked up on PATH) to its end with stdin from /dev/null, stdout and stderr into files and
// `environment` added to this process's; its wall time and, from wait4, its peak resident set.
ChildRun runToEnd(const std::vector<std::string>& arguments, const std::map<std::string, std::string>& environment,
                  const fs::path& stdoutPath, const fs::path& stderrPath) {
    std::vector<std::string> environmentEntries;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        const std::string text = *entry;
        if (!environment.contains(text.substr(0, text.find('=')))) environmentEntries.push_back(text);
    }
    for (const auto& [name, value] : environment) environmentEntries.push_back(name + "=" + value);
    std::vector<char*> argv;
    for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto& entry : environmentEntries) envp.push_back(entry.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, stdoutPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&files, STDERR_FILENO, stderrPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const auto started = std::chrono::steady_clock::now();
    pid_t pid = -1;
    const int spawned = posix_spawnp(&pid, argv[0], &files, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&files);
    if (spawned != 0) throw std::system_error(spawned, std::generic_category(), "posix_spawnp " + arguments[0]);

    int status = 0;
    rusage usage{};
    if (::wait4(pid, &status, 0, &usage) != pid) throw std::system_error(errno, std::generic_category(), "wait4");
    ChildRun run;
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    run.exitStatus = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    run.peakRssMegabytes = static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports kilobytes
    return run;
}

std::string lastLineOf(const fs::path& path) {
    std::ifstream file(path);
    std::string last;
    for (std::string line; std::getline(file, line);) {
        if (!line.empty()) last = line;
    }
    return last;
}

// The MariaDB client streaming (-q) the rows the migrator reads to /dev/null; the fastest of a few runs.
double clientReadSeconds(const MariaDbServer& server, const std::string& database, const std::string& user,
                         const fs::path& workDirectory) {
    double fastest = 0;
    for (int run = 0; run < kClientReadRuns; ++run) {
        const ChildRun read =
            runToEnd({"mariadb", "--host=127.0.0.1", "--port=" + std::to_string(server.port()), "--user=" + user,
                      "--password=" + std::string(kPassword), "-q", "-e", kClientReadStatements, database},
                     {}, "/dev/null", workDirectory / "client.err");
        if (read.exitStatus != 0) {
            throw std::runtime_error("the mariadb client failed: " + lastLineOf(workDirectory / "client.err"));
        }
        fastest = run == 0 ? read.seconds : std::min(fastest, read.seconds);
    }
    return fastest;
}

struct Migration {
    ChildRun run;
    std::string summary;  // the report's last line
};

// What every `bridge migrate` of the run is given besides its databases.
struct MigrateSettings {
    std::string tokenKeys;                 // legacy.tokenKeys
    std::optional<std::string> batchSize;  // migrate.batchSize; nullopt: the configured default
};

// `bridge migrate` from the legacy database into the store; exit 3 is a finished run that reported dirty rows.
Migration migrate(const std::string& legacyDsn, const std::string& storeDsn, const MigrateSettings& settings,
                  const fs::path& workDirectory, const std::string& name) {
    const fs::path report = workDirectory / (name + ".out");
    const fs::path log = workDirectory / (name + ".err");
    std::map<std::string, std::string> environment{
        {"BRIDGE_LEGACY_DSN", legacyDsn},
        {"BRIDGE_LEGACY_TOKENKEYS", settings.tokenKeys},
        {"BRIDGE_STORE_DSN", storeDsn},
        {"BRIDGE_CRYPTO_KEYS", "bench:" + bridge::base64Encode(std::string(32, 'b'))},
    };
    if (settings.batchSize) environment["BRIDGE_MIGRATE_BATCHSIZE"] = *settings.batchSize;
    Migration migration;
    migration.run = runToEnd({BRIDGE_EXECUTABLE, "migrate"}, environment, report, log);
    migration.summary = lastLineOf(report);
    if (migration.run.exitStatus != 0 && migration.run.exitStatus != 3) {
        throw std::runtime_error(name + ": bridge migrate exited " + std::to_string(migration.run.exitStatus) + ": " +
                                 lastLineOf(log));
    }
    return migration;
}

struct SizeResult {
    std::int64_t organizations = 0;
    double clientSeconds = 0;  // each table in one scan, the fastest run
    std::int64_t legacyRows = 0;
    Migration first;              // into a fresh store: the fastest run
    double slowestSeconds = 0;    // of the same runs
    double peakRssMegabytes = 0;  // the highest of the same runs
    Migration rerun;
};

double rowsPerSecond(std::int64_t rows, double seconds) { return static_cast<double>(rows) / seconds; }

const char* verdict(bool met) { return met ? "met" : "NOT met"; }

}  // namespace

int main(int argc, char** argv) {
    MigrateSettings settings;
    if (argc == 3 && std::string_view(argv[1]) == "--batch-size") {
        settings.batchSize = argv[2];
    } else if (argc != 1) {
        std::cerr << "usage: migrate_bench [--batch-size N]   (N: migrate.batchSize; default: the configured one)\n";
        return 2;
    }
    std::string workPattern = (fs::temp_directory_path() / "bridge-migrate-bench-XXXXXX").string();
    if (::mkdtemp(workPattern.data()) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    const fs::path workDirectory = workPattern;
    try {
        MariaDbServer server({.bufferPoolMegabytes = kBufferPoolMegabytes, .redoLogMegabytes = kRedoLogMegabytes});
        std::vector<SizeResult> results;
        std::string largestLegacyDsn;
        for (const std::int64_t organizations : kSizes) {
            const std::string suffix = std::to_string(organizations);
            const std::string database = "legacy_" + suffix;
            const std::string reader = "reader_" + suffix;
            std::cout << "generating " << organizations << " organizations x " << kUsersPerOrganization << " users"
                      << std::endl;
            const LegacyDataManifest manifest = bridge::testsupport::createLegacyDatabase(
                server, {.seed = kSeed, .organizations = organizations, .usersPerOrganization = kUsersPerOrganization},
                database, reader, kPassword);

            SizeResult result;
            result.organizations = organizations;
            result.legacyRows = manifest.organizationRows + manifest.connectivityRows + manifest.userRows;
            result.clientSeconds = clientReadSeconds(server, database, reader, workDirectory);
            const std::string legacyDsn = server.dsn(database, reader, kPassword);
            settings.tokenKeys = manifest.tokenKeys;
            std::string storeDsn;
            for (int run = 0; run < kMigrateRuns; ++run) {
                const std::string name = suffix + "-" + std::to_string(run);
                storeDsn = "sqlite:" + (workDirectory / ("store-" + name + ".db")).string();
                const Migration migration = migrate(legacyDsn, storeDsn, settings, workDirectory, "sqlite-" + name);
                if (run == 0 || migration.run.seconds < result.first.run.seconds) result.first = migration;
                result.slowestSeconds = std::max(result.slowestSeconds, migration.run.seconds);
                result.peakRssMegabytes = std::max(result.peakRssMegabytes, migration.run.peakRssMegabytes);
            }
            // Over the last run's store, which holds everything.
            result.rerun = migrate(legacyDsn, storeDsn, settings, workDirectory, "sqlite-rerun-" + suffix);
            std::cout << "  " << organizations << " into SQLite: " << result.first.summary
                      << "; rerun: " << result.rerun.summary << std::endl;
            results.push_back(result);
            largestLegacyDsn = legacyDsn;
        }

        const SizeResult& largest = results.back();
        server.createDatabase("store");
        server.createUser("store_writer", kPassword, "store");
        // settings.tokenKeys are the largest database's, generated last.
        const Migration intoMariaDb = migrate(largestLegacyDsn, server.dsn("store", "store_writer", kPassword),
                                              settings, workDirectory, "mariadb");
        std::cout << "  " << largest.organizations << " into MariaDB: " << intoMariaDb.summary << "\n\n";

        std::cout << "migrate.batchSize: " << settings.batchSize.value_or("default") << "\n";
        std::printf("%-14s %12s %12s %8s %12s %11s %13s %10s\n", "organizations", "client read", "migrate", "ratio",
                    "slowest", "rows/s", "peak RSS MB", "rerun");
        for (const auto& result : results) {
            std::printf("%-14lld %10.2f s %10.2f s %7.2fx %10.2f s %11.0f %13.1f %8.2f s\n",
                        static_cast<long long>(result.organizations), result.clientSeconds, result.first.run.seconds,
                        result.first.run.seconds / result.clientSeconds, result.slowestSeconds,
                        rowsPerSecond(result.legacyRows, result.first.run.seconds), result.peakRssMegabytes,
                        result.rerun.run.seconds);
        }
        std::printf(
            "(client read: each table in one scan, the fastest of %d; migrate: into a fresh store, the fastest of %d, "
            "beside the slowest; peak RSS: the highest of them)\n",
            kClientReadRuns, kMigrateRuns);
        const double sqliteRate = rowsPerSecond(largest.legacyRows, largest.first.run.seconds);
        const double mariaDbRate = rowsPerSecond(largest.legacyRows, intoMariaDb.run.seconds);
        std::printf(
            "\n%lld organizations (%lld legacy rows) into the SQLite store: %.2f s, %.0f rows/s; into the "
            "MariaDB store: %.2f s, %.0f rows/s (%.2fx SQLite's time), peak RSS %.1f MB\n\n",
            static_cast<long long>(largest.organizations), static_cast<long long>(largest.legacyRows),
            largest.first.run.seconds, sqliteRate, intoMariaDb.run.seconds, mariaDbRate,
            intoMariaDb.run.seconds / largest.first.run.seconds, intoMariaDb.run.peakRssMegabytes);

        double highestRss = 0;
        for (const auto& result : results) highestRss = std::max(highestRss, result.peakRssMegabytes);
        const double rssGrowth = largest.peakRssMegabytes / results.front().peakRssMegabytes;
        std::printf("target: %lld organizations under %.0f s: %s (%.2f s)\n",
                    static_cast<long long>(largest.organizations), kTargetSeconds,
                    verdict(largest.first.run.seconds < kTargetSeconds), largest.first.run.seconds);
        std::printf("target: within %.0fx the client's read: %s (%.2fx)\n", kTargetRatioToClient,
                    verdict(largest.first.run.seconds <= kTargetRatioToClient * largest.clientSeconds),
                    largest.first.run.seconds / largest.clientSeconds);
        std::printf("target: peak RSS under %.0f MB: %s (%.1f MB)\n", kTargetPeakRssMegabytes,
                    verdict(highestRss < kTargetPeakRssMegabytes), highestRss);
        std::printf("target: peak RSS flat from %lld to %lld organizations (at most %.2fx): %s (%.2fx)\n",
                    static_cast<long long>(results.front().organizations),
                    static_cast<long long>(largest.organizations), kFlatRssGrowth, verdict(rssGrowth <= kFlatRssGrowth),
                    rssGrowth);
    } catch (const std::exception& error) {
        std::cerr << "migrate_bench: " << error.what() << "\n";
        fs::remove_all(workDirectory);
        return 1;
    }
    fs::remove_all(workDirectory);
    return 0;
}
