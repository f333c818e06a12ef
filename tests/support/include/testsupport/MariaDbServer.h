#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace sql {
class Connection;
}

namespace bridge::testsupport {

// A MariaDB server of the test's own: a fresh data directory under the system's temporary directory, a free
// loopback port, the server process stopped and everything removed when the object goes. Works as root (as CI
// runs) and as any other user. The server is killed if the thread that started it exits first, so a crashed
// test never leaves one behind: start it from the test's main thread (SetUpTestSuite, a fixture's constructor).
class MariaDbServer {
public:
    struct Options {
        int bufferPoolMegabytes = 32;
        int redoLogMegabytes = 16;
    };

    MariaDbServer();
    explicit MariaDbServer(Options options);
    ~MariaDbServer();
    MariaDbServer(const MariaDbServer&) = delete;
    MariaDbServer& operator=(const MariaDbServer&) = delete;

    // Starts the server again on the same data directory and port after stop(); returns once it accepts
    // connections.
    void start();
    // A clean shutdown (SIGTERM); returns once the process is gone.
    void stop();
    // SIGSTOP: the server keeps its sockets open and accepts connections in the kernel, but answers nothing (a
    // frozen host, a stalled disk). thaw() (SIGCONT) lets it go on where it stopped.
    void freeze();
    void thaw();
    bool running() const { return pid_ > 0; }

    std::uint16_t port() const { return port_; }
    const std::filesystem::path& directory() const { return directory_; }

    // Names and passwords: letters, digits and '_' only.
    void createDatabase(const std::string& name);
    // A user with every privilege on the database.
    void createUser(const std::string& user, const std::string& password, const std::string& database);
    // A user that may only SELECT from the database.
    void createReadOnlyUser(const std::string& user, const std::string& password, const std::string& database);

    // "mysql://USER:PASS@127.0.0.1:PORT/DB", the form of store.dsn and legacy.dsn.
    std::string dsn(const std::string& database, const std::string& user, const std::string& password) const;

    // A connection as the server's root user, utf8mb4; `database` may be empty.
    std::unique_ptr<sql::Connection> connectAsRoot(const std::string& database = {}) const;
    // Runs one statement as root.
    void execute(const std::string& statement) const;

private:
    void installDataDirectory();
    void launch();
    void waitUntilReady();
    std::string errorLogExcerpt() const;

    Options options_;
    std::filesystem::path directory_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace bridge::testsupport
