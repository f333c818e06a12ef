#include "bridge/services/KeepAlive.h"

#include <exception>

#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"
#include "bridge/base/WallClock.h"

namespace bridge {

namespace {

UnixSeconds nowSeconds() { return WallClock::unixSeconds(); }

}  // namespace

KeepAlive::KeepAlive(TokenBroker& broker, Store& store, KeepAliveSettings settings)
    : broker_(broker), store_(store), settings_(settings), thread_([this] { run(); }) {}

KeepAlive::~KeepAlive() { stop(); }

void KeepAlive::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wakeUp_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void KeepAlive::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        refreshIdleConnections();
        lock.lock();
        wakeUp_.wait_for(lock, settings_.checkEvery, [this] { return stopping_; });
    }
}

bool KeepAlive::stopRequested() {
    std::lock_guard lock(mutex_);
    return stopping_;
}

void KeepAlive::refreshIdleConnections() {
    const auto log = logger("broker");
    const UnixSeconds idleBefore = nowSeconds() - settings_.idleAfter.count();
    std::vector<std::int64_t> idle;
    try {
        idle = store_.listIdleConnections(idleBefore, settings_.connectionsPerRound);
    } catch (const Error& error) {
        log->warn("keep-alive could not list idle connections: {}", error.what());
        return;
    }
    for (std::int64_t orgId : idle) {
        if (stopRequested()) return;
        try {
            store_.recordKeepAliveAttempt(orgId, nowSeconds());
            broker_.keepAlive(orgId, idleBefore);
            log->info("keep-alive refreshed the idle connection of organization {}", orgId);
        } catch (const Error& error) {
            log->warn("keep-alive of organization {} failed: {} ({})", orgId, errorCodeName(error.code()),
                      error.what());
        } catch (const std::exception& error) {
            // A thread of its own: anything escaping would end the process.
            log->error("keep-alive of organization {} failed: {}", orgId, error.what());
        }
    }
}

}  // namespace bridge
