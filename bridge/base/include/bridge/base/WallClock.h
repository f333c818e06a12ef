#pragma once

#include <chrono>
#include <cstdint>

namespace bridge {

// The host's wall clock as the services read it (event times, access-token expiry, keep-alive's idle cutoff).
// Nothing that instances must agree on runs on it: refresh leases run on the database's clock. A test shifts it
// (config key test.clockOffsetMs) to run instances whose clocks disagree.
class WallClock {
public:
    static std::chrono::system_clock::time_point now();
    static std::int64_t unixSeconds();
    static std::int64_t unixMillis();

    // Test-only: every later reading is shifted by `offset`. Set once at start, before any thread reads the clock.
    static void setOffsetForTests(std::chrono::milliseconds offset);
};

}  // namespace bridge
