#pragma once

#include <Poco/Pipe.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace bridge::testsupport {

// Every field has an initializer so that designated initializers may leave any out under -Wextra.
struct ChildProcessOptions {
    std::string executable{};
    std::vector<std::string> arguments{};
    std::map<std::string, std::string> environment{};  // added to, or overriding, the inherited environment
    std::string workingDirectory{};                    // empty: the current one
    bool captureStderr = false;                        // true: stderr joins stdout in the captured lines
};

// A real child process whose stdout is captured line by line by a background thread, so the child never blocks
// on a full pipe. It gets SIGKILL when the thread that started it ends, so that a test program that dies never
// leaves it running. Exit statuses are the exit code, 128 + the signal number for a child killed by a signal, or -1 if
// something else reaped the child.
class ChildProcess {
public:
    // Launches at once; throws if fork fails. A program that cannot be executed exits at once with status 127.
    explicit ChildProcess(ChildProcessOptions options);
    // Kills the child if it still runs.
    ~ChildProcess();

    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    int pid() const;

    // The first stdout line starting with `prefix`, lines read before the call included. Throws std::runtime_error,
    // with the output so far, if none arrives within `timeout` or stdout closes first.
    std::string waitForLine(std::string_view prefix, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Every complete stdout line so far.
    std::vector<std::string> lines() const;
    std::string output() const;

    bool running();
    // SIGTERM, then SIGKILL if the child is still running after `grace`; returns the exit status.
    int terminate(std::chrono::milliseconds grace = std::chrono::seconds(10));
    // SIGKILL; returns the exit status.
    int kill();
    // Blocks until the child exits; returns the exit status.
    int wait();
    // The exit status, or nullopt if the child still runs after `timeout`.
    std::optional<int> waitFor(std::chrono::milliseconds timeout);

private:
    void drainOutput();
    std::optional<int> reap(bool block);

    const ChildProcessOptions options_;
    Poco::Pipe output_;
    int pid_ = -1;

    std::mutex exitMutex_;
    std::optional<int> exitStatus_;

    mutable std::mutex outputMutex_;
    std::condition_variable outputChanged_;
    std::vector<std::string> lines_;
    std::string partialLine_;
    bool outputClosed_ = false;
    bool stopDraining_ = false;
    std::thread drainer_;
};

}  // namespace bridge::testsupport
