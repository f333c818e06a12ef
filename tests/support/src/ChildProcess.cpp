#include "testsupport/ChildProcess.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "testsupport/SpawnChild.h"

namespace bridge::testsupport {
namespace {

constexpr int kPollIntervalMs = 50;

int exitStatusOf(int waitStatus) {
    if (WIFEXITED(waitStatus)) return WEXITSTATUS(waitStatus);
    if (WIFSIGNALED(waitStatus)) return 128 + WTERMSIG(waitStatus);
    return -1;
}

}  // namespace

ChildProcess::ChildProcess(ChildProcessOptions options) : options_(std::move(options)) {
    std::vector<std::string> arguments{options_.executable};
    arguments.insert(arguments.end(), options_.arguments.begin(), options_.arguments.end());
    const int outputFd = output_.writeHandle();
    pid_ = spawnChild(std::move(arguments), environmentWith(options_.environment),
                      {.output = outputFd, .error = options_.captureStderr ? outputFd : -1}, options_.workingDirectory);
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
