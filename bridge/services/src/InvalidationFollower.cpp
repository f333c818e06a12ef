#include "bridge/services/InvalidationFollower.h"

namespace bridge {

InvalidationFollower::InvalidationFollower(TokenBroker& broker)
    : broker_(broker), poll_(broker.invalidationPoll()), thread_([this] { run(); }) {}

InvalidationFollower::~InvalidationFollower() { stop(); }

void InvalidationFollower::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wakeUp_.notify_all();
    thread_.join();
    broker_.stopFollowingInvalidations();
}

void InvalidationFollower::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        lock.unlock();
        broker_.followInvalidations();
        lock.lock();
        wakeUp_.wait_for(lock, poll_, [this] { return stopping_; });
    }
}

}  // namespace bridge
