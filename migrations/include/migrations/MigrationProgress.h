#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace bridge::migrations {

// The migrator's progress: organizations done / total, rate and time left. On a terminal a bar redrawn in
// place; otherwise a plain line now and then, fit for a log file. Either way it goes to standard error, so that
// standard output carries only the report (the "skipped ..." lines and the summary) for scripts to read.
class MigrationProgress {
public:
    enum class Style { LiveBar, PeriodicLines };
    using Clock = std::chrono::steady_clock;
    // Receives "\r<bar>" (LiveBar, no newline until finish) or one line without newline (PeriodicLines).
    using Sink = std::function<void(std::string_view text)>;

    // `unit` names what is counted (the rekey command counts "sealed values").
    MigrationProgress(std::int64_t total, Style style, Sink sink, std::function<Clock::time_point()> now = &Clock::now,
                      std::string unit = "organizations");

    void advance(std::int64_t organizations);
    // The final state, whatever the interval.
    void finish();

    // "1200/100000 organizations (1%), 2400/s, 0:00:41 left"
    std::string describe() const;

private:
    void show();

    std::int64_t total_;
    Style style_;
    Sink sink_;
    std::function<Clock::time_point()> now_;
    Clock::time_point started_;
    Clock::time_point lastShown_;
    std::int64_t done_ = 0;
    std::string unit_;
};

}  // namespace bridge::migrations
