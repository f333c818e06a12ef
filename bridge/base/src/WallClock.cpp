#include "bridge/base/WallClock.h"

#include <atomic>

namespace bridge {

namespace {

std::atomic<std::int64_t> offsetMs{0};

}  // namespace

std::chrono::system_clock::time_point WallClock::now() {
    return std::chrono::system_clock::now() + std::chrono::milliseconds(offsetMs.load(std::memory_order_relaxed));
}

std::int64_t WallClock::unixSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(now().time_since_epoch()).count();
}

std::int64_t WallClock::unixMillis() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
}

void WallClock::setOffsetForTests(std::chrono::milliseconds offset) {
    offsetMs.store(offset.count(), std::memory_order_relaxed);
}

}  // namespace bridge
