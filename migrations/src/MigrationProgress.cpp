#include "migrations/MigrationProgress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bridge::migrations {

namespace {

constexpr auto kBarInterval = std::chrono::milliseconds(100);
constexpr auto kLineInterval = std::chrono::seconds(10);
constexpr int kBarWidth = 30;

std::string clockText(double seconds) {
    const auto whole = static_cast<long long>(std::llround(seconds));
    char text[32];
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", whole / 3600, whole / 60 % 60, whole % 60);
    return text;
}

}  // namespace

MigrationProgress::MigrationProgress(std::int64_t total, Style style, Sink sink, std::function<Clock::time_point()> now,
                                     std::string unit)
    : total_(total),
      style_(style),
      sink_(std::move(sink)),
      now_(std::move(now)),
      started_(now_()),
      lastShown_(started_),
      unit_(std::move(unit)) {}

void MigrationProgress::advance(std::int64_t organizations) {
    done_ += organizations;
    const auto interval = style_ == Style::LiveBar ? std::chrono::duration_cast<Clock::duration>(kBarInterval)
                                                   : std::chrono::duration_cast<Clock::duration>(kLineInterval);
    if (now_() - lastShown_ >= interval) show();
}

void MigrationProgress::finish() {
    show();
    if (style_ == Style::LiveBar) sink_("\n");
}

std::string MigrationProgress::describe() const {
    const double elapsed = std::chrono::duration<double>(now_() - started_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
    const int percent = total_ > 0 ? static_cast<int>(std::min<std::int64_t>(100, done_ * 100 / total_)) : 100;
    std::string text = std::to_string(done_) + "/" + std::to_string(total_) + " " + unit_ + " (" +
                       std::to_string(percent) + "%), " + std::to_string(static_cast<long long>(rate)) + "/s, ";
    if (done_ >= total_) return text + "done in " + clockText(elapsed);
    if (rate <= 0) return text + "time left unknown";
    return text + clockText(static_cast<double>(total_ - done_) / rate) + " left";
}

void MigrationProgress::show() {
    lastShown_ = now_();
    if (style_ == Style::PeriodicLines) {
        sink_("progress: " + describe());
        return;
    }
    const int filled =
        total_ > 0 ? static_cast<int>(std::min<std::int64_t>(kBarWidth, done_ * kBarWidth / total_)) : kBarWidth;
    // Trailing spaces wipe what a longer previous line left on the terminal.
    sink_("\r[" + std::string(static_cast<std::size_t>(filled), '#') +
          std::string(static_cast<std::size_t>(kBarWidth - filled), '.') + "] " + describe() + "    ");
}

}  // namespace bridge::migrations
