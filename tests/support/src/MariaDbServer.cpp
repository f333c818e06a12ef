#include "testsupport/MariaDbServer.h"

#include <arpa/inet.h>
#include <cppconn/connection.h>
#include <cppconn/exception.h>
#include <cppconn/statement.h>
#include <fcntl.h>
#include <mysql_driver.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "testsupport/SpawnChild.h"

namespace bridge::testsupport {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(60);
constexpr auto kPollInterval = std::chrono::milliseconds(20);
constexpr int kPortAttempts = 5;

[[noreturn]] void throwSystemError(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

// /usr/sbin is not on an ordinary user's PATH, so the usual install places are tried before PATH.
fs::path findProgram(const std::string& name) {
    std::vector<fs::path> candidates{fs::path("/usr/sbin") / name, fs::path("/usr/bin") / name};
    if (const char* path = std::getenv("PATH")) {
        std::string remaining = path;
        for (std::size_t start = 0; start <= remaining.size();) {
            std::size_t end = remaining.find(':', start);
            if (end == std::string::npos) end = remaining.size();
            if (end > start) candidates.push_back(fs::path(remaining.substr(start, end - start)) / name);
            start = end + 1;
        }
    }
    for (const auto& candidate : candidates) {
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    throw std::runtime_error("MariaDbServer: " + name + " not found (apt-get install mariadb-server)");
}

bool runningAsRoot() { return ::geteuid() == 0; }

std::string currentUserName() {
    const passwd* entry = ::getpwuid(::geteuid());
    if (entry == nullptr) throw std::runtime_error("MariaDbServer: the current user has no passwd entry");
    return entry->pw_name;
}

// Starts a program with stdin from /dev/null and stdout/stderr appended to `output`: a server that outlives a
// crashed test must never hold the test runner's pipes open (and spawnChild kills it when the starting thread ends).
pid_t spawn(const std::vector<std::string>& arguments, const fs::path& output) {
    const int input = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (input < 0) throwSystemError("open /dev/null");
    const int log = ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log < 0) {
        ::close(input);
        throwSystemError("open " + output.string());
    }
    pid_t pid = -1;
    try {
        pid = spawnChild(arguments, environmentWith({}), {.input = input, .output = log, .error = log});
    } catch (const std::system_error&) {
        ::close(input);
        ::close(log);
        throw;
    }
    ::close(input);
    ::close(log);
    return pid;
}

// The exit status once the process has ended, nullopt while it runs.
std::optional<int> reap(pid_t pid) {
    int status = 0;
    const pid_t result = ::waitpid(pid, &status, WNOHANG);
    if (result == 0) return std::nullopt;
    if (result < 0) throwSystemError("waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::optional<int> waitForExit(pid_t pid, Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
        if (auto status = reap(pid)) return status;
        if (Clock::now() > deadline) return std::nullopt;
        std::this_thread::sleep_for(kPollInterval);
    }
}

std::uint16_t freeLoopbackPort() {
    const int socket = ::socket(AF_INET, SOCK_STREAM, 0);
    if (socket < 0) throwSystemError("socket");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(socket, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(socket, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ::close(socket);
        throwSystemError("bind to a free loopback port");
    }
    ::close(socket);
    return ntohs(address.sin_port);
}

void requireSimpleName(const std::string& text) {
    if (text.empty()) throw std::invalid_argument("MariaDbServer: empty name");
    for (char c : text) {
        const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!allowed) throw std::invalid_argument("MariaDbServer: use letters, digits and '_' only: " + text);
    }
}

// What explains a failure, for an exception's message (the directory is gone by the time anyone looks): the
// log's error and warning lines, or its last lines when it has none.
std::string logExcerpt(const fs::path& path) {
    constexpr std::size_t kLines = 20;
    std::ifstream log(path);
    std::deque<std::string> last;
    std::string problems;
    for (std::string line; std::getline(log, line);) {
        if (line.find("ERROR") != std::string::npos || line.find("Warning") != std::string::npos) {
            problems += line + "\n";
        }
        last.push_back(line);
        if (last.size() > kLines) last.pop_front();
    }
    if (!problems.empty()) return problems;
    std::string tail;
    for (const auto& line : last) tail += line + "\n";
    return tail;
}

}  // namespace

MariaDbServer::MariaDbServer() : MariaDbServer(Options{}) {}

MariaDbServer::MariaDbServer(Options options) : options_(options) {
    std::string pattern = (fs::temp_directory_path() / "bridge-mariadb-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throwSystemError("mkdtemp " + pattern);
    directory_ = pattern;
    try {
        installDataDirectory();
        for (int attempt = 1;; ++attempt) {
            port_ = freeLoopbackPort();
            try {
                start();
                break;
            } catch (const std::runtime_error&) {
                // Another process may have taken the port between our probe and the server's bind.
                if (attempt == kPortAttempts) throw;
            }
        }
    } catch (const std::exception&) {
        if (running()) stop();
        fs::remove_all(directory_);
        throw;
    }
}

MariaDbServer::~MariaDbServer() {
    if (running()) {
        ::kill(pid_, SIGTERM);
        if (!waitForExit(pid_, kStopTimeout)) {
            ::kill(pid_, SIGKILL);
            waitForExit(pid_, kStopTimeout);
        }
    }
    std::error_code ignoredBecauseNothingCanBeDoneInADestructor;
    fs::remove_all(directory_, ignoredBecauseNothingCanBeDoneInADestructor);
}

void MariaDbServer::installDataDirectory() {
    // A private tmpdir: the bootstrap's temporary tables must not meet other servers' (or a /tmp cleaner).
    fs::create_directories(directory_ / "tmp");
    std::vector<std::string> arguments{
        findProgram("mariadb-install-db").string(),
        "--no-defaults",
        "--auth-root-authentication-method=normal",
        "--datadir=" + (directory_ / "data").string(),
        "--user=" + (runningAsRoot() ? std::string("root") : currentUserName()),
        "--skip-test-db",
        "--skip-name-resolve",
        "--tmpdir=" + (directory_ / "tmp").string(),
        // The redo log is created here; the server must later be given the same size.
        "--innodb-log-file-size=" + std::to_string(options_.redoLogMegabytes) + "M",
        "--innodb-buffer-pool-size=" + std::to_string(options_.bufferPoolMegabytes) + "M",
    };
    const pid_t pid = spawn(arguments, directory_ / "install.log");
    const auto status = waitForExit(pid, kStartTimeout);
    if (!status) {
        ::kill(pid, SIGKILL);
        waitForExit(pid, kStopTimeout);
        throw std::runtime_error("MariaDbServer: mariadb-install-db did not finish");
    }
    if (*status != 0) {
        throw std::runtime_error("MariaDbServer: mariadb-install-db failed:\n" +
                                 logExcerpt(directory_ / "install.log"));
    }
}

void MariaDbServer::start() {
    if (running()) return;
    launch();
    try {
        waitUntilReady();
    } catch (const std::runtime_error&) {
        if (running()) {
            ::kill(pid_, SIGKILL);
            waitForExit(pid_, kStopTimeout);
            pid_ = -1;
        }
        throw;
    }
}

void MariaDbServer::launch() {
    std::vector<std::string> arguments{
        findProgram("mariadbd").string(),
        "--no-defaults",
        "--datadir=" + (directory_ / "data").string(),
        "--socket=" + (directory_ / "sock").string(),
        "--tmpdir=" + (directory_ / "tmp").string(),
        "--pid-file=" + (directory_ / "mariadbd.pid").string(),
        "--log-error=" + (directory_ / "error.log").string(),
        "--port=" + std::to_string(port_),
        "--bind-address=127.0.0.1",
        "--skip-networking=0",
        "--skip-name-resolve",
        "--skip-log-bin",
        "--performance-schema=OFF",
        "--innodb-buffer-pool-size=" + std::to_string(options_.bufferPoolMegabytes) + "M",
        "--innodb-log-file-size=" + std::to_string(options_.redoLogMegabytes) + "M",
        "--innodb-doublewrite=0",
        "--innodb-buffer-pool-dump-at-shutdown=0",
        "--innodb-buffer-pool-load-at-startup=0",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_general_ci",
        "--max-connections=500",
        "--max-allowed-packet=64M",
    };
    if (runningAsRoot()) arguments.push_back("--user=root");
    pid_ = spawn(arguments, directory_ / "mariadbd.out");
}

void MariaDbServer::waitUntilReady() {
    const auto deadline = Clock::now() + kStartTimeout;
    while (true) {
        if (auto status = reap(pid_)) {
            pid_ = -1;
            throw std::runtime_error("MariaDbServer: mariadbd exited with status " + std::to_string(*status) + ":\n" +
                                     errorLogExcerpt());
        }
        try {
            connectAsRoot();
            return;
        } catch (const sql::SQLException&) {
            if (Clock::now() > deadline) {
                throw std::runtime_error("MariaDbServer: mariadbd did not accept connections in time:\n" +
                                         errorLogExcerpt());
            }
        }
        std::this_thread::sleep_for(kPollInterval);
    }
}

void MariaDbServer::stop() {
    if (!running()) return;
    if (::kill(pid_, SIGTERM) != 0) throwSystemError("kill mariadbd");
    ::kill(pid_, SIGCONT);  // a frozen server only sees the SIGTERM once it runs again
    if (!waitForExit(pid_, kStopTimeout)) {
        throw std::runtime_error("MariaDbServer: mariadbd did not shut down in time:\n" + errorLogExcerpt());
    }
    pid_ = -1;
}

void MariaDbServer::freeze() {
    if (!running()) throw std::logic_error("MariaDbServer::freeze: the server is not running");
    if (::kill(pid_, SIGSTOP) != 0) throwSystemError("kill -STOP mariadbd");
}

void MariaDbServer::thaw() {
    if (!running()) throw std::logic_error("MariaDbServer::thaw: the server is not running");
    if (::kill(pid_, SIGCONT) != 0) throwSystemError("kill -CONT mariadbd");
}

std::string MariaDbServer::errorLogExcerpt() const { return logExcerpt(directory_ / "error.log"); }

std::unique_ptr<sql::Connection> MariaDbServer::connectAsRoot(const std::string& database) const {
    sql::ConnectOptionsMap options;
    options["hostName"] = sql::SQLString("tcp://127.0.0.1:" + std::to_string(port_));
    options["userName"] = sql::SQLString("root");
    options["password"] = sql::SQLString("");
    options["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
    options["OPT_CONNECT_TIMEOUT"] = 5;
    if (!database.empty()) options["schema"] = sql::SQLString(database);
    return std::unique_ptr<sql::Connection>(sql::mysql::get_mysql_driver_instance()->connect(options));
}

void MariaDbServer::execute(const std::string& statement) const {
    auto connection = connectAsRoot();
    std::unique_ptr<sql::Statement>(connection->createStatement())->execute(statement);
}

void MariaDbServer::createDatabase(const std::string& name) {
    requireSimpleName(name);
    execute("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4");
}

void MariaDbServer::createUser(const std::string& user, const std::string& password, const std::string& database) {
    requireSimpleName(user);
    requireSimpleName(password);
    requireSimpleName(database);
    execute("CREATE USER '" + user + "'@'%' IDENTIFIED BY '" + password + "'");
    execute("GRANT ALL PRIVILEGES ON `" + database + "`.* TO '" + user + "'@'%'");
}

void MariaDbServer::createReadOnlyUser(const std::string& user, const std::string& password,
                                       const std::string& database) {
    requireSimpleName(user);
    requireSimpleName(password);
    requireSimpleName(database);
    execute("CREATE USER '" + user + "'@'%' IDENTIFIED BY '" + password + "'");
    execute("GRANT SELECT ON `" + database + "`.* TO '" + user + "'@'%'");
}

std::string MariaDbServer::dsn(const std::string& database, const std::string& user,
                               const std::string& password) const {
    return "mysql://" + user + ":" + password + "@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

}  // namespace bridge::testsupport
