#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "migrations/MigrationProgress.h"

namespace bridge::migrations {
namespace {

using namespace std::chrono_literals;

class FakeClock {
public:
    MigrationProgress::Clock::time_point now() const { return now_; }
    void advance(MigrationProgress::Clock::duration by) { now_ += by; }

private:
    MigrationProgress::Clock::time_point now_{};
};

TEST(MigrationProgressTest, DescribesDoneTotalRateAndTimeLeft) {
    FakeClock clock;
    std::vector<std::string> shown;
    MigrationProgress progress(
        1000, MigrationProgress::Style::PeriodicLines, [&](std::string_view text) { shown.emplace_back(text); },
        [&] { return clock.now(); });
    clock.advance(2s);
    progress.advance(100);
    EXPECT_EQ(progress.describe(), "100/1000 organizations (10%), 50/s, 0:00:18 left");
}

TEST(MigrationProgressTest, PlainLinesComeEveryTenSecondsAndAtTheEnd) {
    FakeClock clock;
    std::vector<std::string> shown;
    MigrationProgress progress(
        300, MigrationProgress::Style::PeriodicLines, [&](std::string_view text) { shown.emplace_back(text); },
        [&] { return clock.now(); });
    clock.advance(5s);
    progress.advance(100);
    EXPECT_TRUE(shown.empty());
    clock.advance(5s);
    progress.advance(100);
    ASSERT_EQ(shown.size(), 1u);
    EXPECT_EQ(shown.back(), "progress: 200/300 organizations (66%), 20/s, 0:00:05 left");
    clock.advance(1s);
    progress.advance(100);
    progress.finish();
    ASSERT_EQ(shown.size(), 2u);
    EXPECT_EQ(shown.back(), "progress: 300/300 organizations (100%), 27/s, done in 0:00:11");
}

TEST(MigrationProgressTest, TheLiveBarRedrawsInPlaceAndEndsTheLine) {
    FakeClock clock;
    std::vector<std::string> shown;
    MigrationProgress progress(
        10, MigrationProgress::Style::LiveBar, [&](std::string_view text) { shown.emplace_back(text); },
        [&] { return clock.now(); });
    clock.advance(1s);
    progress.advance(5);
    ASSERT_EQ(shown.size(), 1u);
    EXPECT_EQ(shown.back().rfind("\r[###############...............] 5/10 organizations (50%)", 0), 0u) << shown.back();
    progress.finish();
    EXPECT_EQ(shown.back(), "\n");
}

TEST(MigrationProgressTest, AnEmptyDatabaseIsDoneAtOnce) {
    std::vector<std::string> shown;
    MigrationProgress progress(0, MigrationProgress::Style::PeriodicLines,
                               [&](std::string_view text) { shown.emplace_back(text); });
    progress.finish();
    ASSERT_EQ(shown.size(), 1u);
    EXPECT_EQ(shown.back().rfind("progress: 0/0 organizations (100%), 0/s, done in", 0), 0u);
}

}  // namespace
}  // namespace bridge::migrations
