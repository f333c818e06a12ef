#include "testsupport/ChildProcess.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace bridge::testsupport {
namespace {

constexpr int kPollIntervalMs = 50;

int exitStatusOf(int waitStatus) {
    if (WIFEXITED(waitStatus)) return WEXITSTATUS(waitStatus);
    if (WIFSIGNALED(waitStatus)) return 128 + WTERMSIG(waitStatus);
    return -1;
}

// The inherited environment with `overrides` added or replacing, as "NAME=value" strings.
std::vector<std::string> environmentWith(const std::map<std::string, std::string>& overrides) {
    std::vector<std::string> variables;
    for (char** variable = environ; *variable != nullptr; ++variable) {
        const std::string_view entry(*variable);
        if (!overrides.contains(std::string(entry.substr(0, entry.find('='))))) variables.emplace_back(entry);
    }
    for (const auto& [name, value] : overrides) variables.push_back(name + "=" + value);
    return variables;
}

std::vector<char*> nullTerminated(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (std::string& string : strings) pointers.push_back(string.data());
    pointers.push_back(nullptr);
    return pointers;
}

}  // namespace

ChildProcess::ChildProcess(ChildProcessOptions options) : options_(std::move(options)) {
    std::vector<std::string> arguments{options_.executable};
    arguments.insert(arguments.end(), options_.arguments.begin(), options_.arguments.end());
    std::vector<std::string> environment = environmentWith(options_.environment);
    const std::vector<char*> argv = nullTerminated(arguments);
    const std::vector<char*> envp = nullTerminated(environment);
    const int outputFd = output_.writeHandle();
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork " + options_.executable);
    if (pid_ == 0) {
        // Only async-signal-safe calls from here to exec. The child gets SIGKILL when the thread that started it
        // ends: a test program that dies (an abort, a sanitizer's halt) takes its servers with it, and none of them
        // is left holding the test runner's stderr open until ctest's timeout.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(outputFd, STDOUT_FILENO);
        if (options_.captureStderr) ::dup2(outputFd, STDERR_FILENO);
        ::close_range(3, ~0U, 0);  // the pipes of the other children, among others
        if (!options_.workingDirectory.empty() && ::chdir(options_.workingDirectory.c_str()) != 0) ::_exit(127);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    output_.close(Poco::Pipe::CLOSE_WRITE);
    drainer_ = std::thread([this] { drainOutput(); });
}

ChildProcess::~ChildProcess() {
    if (running()) kill();
    {
        std::lock_guard lock(outputMutex_);
        stopDraining_ = true;
    }
    drainer_.join();
}

int ChildProcess::pid() const { return pid_; }

std::string ChildProcess::waitForLine(std::string_view prefix, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(outputMutex_);
    std::size_t checked = 0;
    while (true) {
        for (; checked < lines_.size(); ++checked) {
            if (lines_[checked].rfind(prefix, 0) == 0) return lines_[checked];
        }
        if (outputClosed_) break;
        if (outputChanged_.wait_until(lock, deadline) == std::cv_status::timeout && checked == lines_.size()) break;
    }
    std::string output;
    for (const std::string& line : lines_) output += line + "\n";
    output += partialLine_;
    throw std::runtime_error("no line starting with '" + std::string(prefix) + "' from " + options_.executable +
                             (outputClosed_ ? " before its output closed" : " in time") + "; output so far:\n" +
                             output);
}

std::vector<std::string> ChildProcess::lines() const {
    std::lock_guard lock(outputMutex_);
    return lines_;
}

std::string ChildProcess::output() const {
    std::lock_guard lock(outputMutex_);
    std::string output;
    for (const std::string& line : lines_) output += line + "\n";
    return output + partialLine_;
}

bool ChildProcess::running() { return !reap(false).has_value(); }

int ChildProcess::terminate(std::chrono::milliseconds grace) {
    if (!running()) return *reap(false);
    ::kill(pid_, SIGTERM);
    if (std::optional<int> status = waitFor(grace)) return *status;
    return kill();
}

int ChildProcess::kill() {
    if (!running()) return *reap(false);
    ::kill(pid_, SIGKILL);
    return wait();
}

int ChildProcess::wait() { return *reap(true); }

std::optional<int> ChildProcess::waitFor(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        if (std::optional<int> status = reap(false)) return status;
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::optional<int> ChildProcess::reap(bool block) {
    std::lock_guard lock(exitMutex_);
    if (exitStatus_) return exitStatus_;
    int waitStatus = 0;
    pid_t reaped = 0;
    do {
        reaped = ::waitpid(pid_, &waitStatus, block ? 0 : WNOHANG);
    } while (reaped < 0 && errno == EINTR);
    if (reaped < 0 && errno == ECHILD) {
        exitStatus_ = -1;  // reaped by someone else (SIGCHLD ignored, say): gone, status unknown
    } else if (reaped < 0) {
        throw std::system_error(errno, std::generic_category(), "waitpid");
    }
    if (reaped == pid_) exitStatus_ = exitStatusOf(waitStatus);
    return exitStatus_;
}

void ChildProcess::drainOutput() {
    std::array<char, 4096> buffer{};
    pollfd readable{.fd = output_.readHandle(), .events = POLLIN, .revents = 0};
    while (true) {
        {
            std::lock_guard lock(outputMutex_);
            if (stopDraining_) return;
        }
        // Polling with a timeout, so the destructor can stop us even if a grandchild keeps the pipe open.
        if (::poll(&readable, 1, kPollIntervalMs) <= 0) continue;
        const int count = output_.readBytes(buffer.data(), static_cast<int>(buffer.size()));
        std::lock_guard lock(outputMutex_);
        if (count <= 0) {
            if (!partialLine_.empty()) lines_.push_back(std::exchange(partialLine_, {}));
            outputClosed_ = true;
            outputChanged_.notify_all();
            return;
        }
        partialLine_.append(buffer.data(), static_cast<std::size_t>(count));
        std::size_t newline = 0;
        while ((newline = partialLine_.find('\n')) != std::string::npos) {
            lines_.push_back(partialLine_.substr(0, newline));
            partialLine_.erase(0, newline + 1);
        }
        outputChanged_.notify_all();
    }
}

}  // namespace bridge::testsupport
