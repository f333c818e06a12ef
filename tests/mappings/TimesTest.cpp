#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "mappings/Times.h"

namespace bridge::mappings {
namespace {

struct TimeSpellings {
    std::int64_t secondsSinceEpoch;
    std::string_view legacy;
    std::string_view rfc3339;
};

class TimeSpellingTest : public testing::TestWithParam<TimeSpellings> {};

TEST_P(TimeSpellingTest, FormatsBothWays) {
    EXPECT_EQ(formatLegacyTime(GetParam().secondsSinceEpoch), GetParam().legacy);
    EXPECT_EQ(formatRfc3339(GetParam().secondsSinceEpoch), GetParam().rfc3339);
}

TEST_P(TimeSpellingTest, ParsesBothWays) {
    EXPECT_EQ(parseLegacyTime(GetParam().legacy), GetParam().secondsSinceEpoch);
    EXPECT_EQ(parseRfc3339(GetParam().rfc3339), GetParam().secondsSinceEpoch);
}

TEST_P(TimeSpellingTest, RoundTripsThroughEachFormat) {
    const auto seconds = GetParam().secondsSinceEpoch;
    EXPECT_EQ(parseLegacyTime(formatLegacyTime(seconds)), seconds);
    EXPECT_EQ(parseRfc3339(formatRfc3339(seconds)), seconds);
}

INSTANTIATE_TEST_SUITE_P(KnownTimes, TimeSpellingTest,
                         testing::Values(TimeSpellings{0, "1970-01-01 00:00:00", "1970-01-01T00:00:00Z"},
                                         TimeSpellings{-1, "1969-12-31 23:59:59", "1969-12-31T23:59:59Z"},
                                         TimeSpellings{1, "1970-01-01 00:00:01", "1970-01-01T00:00:01Z"},
                                         TimeSpellings{1773480413, "2026-03-14 09:26:53", "2026-03-14T09:26:53Z"},
                                         // Leap days: every 4 years, not in 1900 or 2100, yet in 2000, 2400 and year 0.
                                         TimeSpellings{951782400, "2000-02-29 00:00:00", "2000-02-29T00:00:00Z"},
                                         TimeSpellings{1709251199, "2024-02-29 23:59:59", "2024-02-29T23:59:59Z"},
                                         TimeSpellings{13574606400, "2400-02-29 12:00:00", "2400-02-29T12:00:00Z"},
                                         TimeSpellings{-2203891200, "1900-03-01 00:00:00", "1900-03-01T00:00:00Z"},
                                         TimeSpellings{-62162121600, "0000-02-29 00:00:00", "0000-02-29T00:00:00Z"},
                                         // Past 32-bit time_t.
                                         TimeSpellings{2147483648, "2038-01-19 03:14:08", "2038-01-19T03:14:08Z"},
                                         // The ends of what four-digit years can write.
                                         TimeSpellings{-62167219200, "0000-01-01 00:00:00", "0000-01-01T00:00:00Z"},
                                         TimeSpellings{-62135596800, "0001-01-01 00:00:00", "0001-01-01T00:00:00Z"},
                                         TimeSpellings{253402300799, "9999-12-31 23:59:59", "9999-12-31T23:59:59Z"}));

TEST(FormatTime, ClampsTimesThatFourDigitYearsCannotWrite) {
    EXPECT_EQ(kEarliestFormattableTime, -62167219200);
    EXPECT_EQ(kLatestFormattableTime, 253402300799);
    for (const std::int64_t late :
         {kLatestFormattableTime + 1, std::int64_t{1} << 40, std::numeric_limits<std::int64_t>::max()}) {
        SCOPED_TRACE(late);
        EXPECT_EQ(formatLegacyTime(late), "9999-12-31 23:59:59");
        EXPECT_EQ(formatRfc3339(late), "9999-12-31T23:59:59Z");
    }
    for (const std::int64_t early :
         {kEarliestFormattableTime - 1, -(std::int64_t{1} << 40), std::numeric_limits<std::int64_t>::min()}) {
        SCOPED_TRACE(early);
        EXPECT_EQ(formatLegacyTime(early), "0000-01-01 00:00:00");
        EXPECT_EQ(formatRfc3339(early), "0000-01-01T00:00:00Z");
    }
}

TEST(FormatTime, RoundTripsEveryDayOfALeapYearAndItsNeighbours) {
    // 1999-12-31 00:00:00 to 2001-01-02 00:00:00, one day and one second at a time.
    for (std::int64_t seconds = 946598400; seconds <= 978393600; seconds += 86401) {
        SCOPED_TRACE(seconds);
        EXPECT_EQ(parseLegacyTime(formatLegacyTime(seconds)), seconds);
        EXPECT_EQ(parseRfc3339(formatRfc3339(seconds)), seconds);
    }
}

// Dates and times that are well formed but do not exist: refused by both parsers.
constexpr std::string_view kImpossibleDateTimes[] = {
    "2023-02-29 00:00:00",  // not a leap year
    "1900-02-29 00:00:00",  // centuries are not, unless divisible by 400
    "2100-02-29 00:00:00", "2024-02-30 00:00:00", "2026-04-31 00:00:00", "2026-06-31 00:00:00",
    "2026-09-31 00:00:00", "2026-11-31 00:00:00", "2026-01-32 00:00:00", "2026-00-10 00:00:00",
    "2026-13-10 00:00:00", "2026-03-00 00:00:00", "2026-03-14 24:00:00", "2026-03-14 23:60:00",
    "2026-03-14 23:59:60",  // a leap second: Unix time cannot hold it
    "2026-03-14 99:99:99",
};

TEST(ParseLegacyTime, RefusesDatesAndTimesThatDoNotExist) {
    for (const auto text : kImpossibleDateTimes) {
        SCOPED_TRACE(text);
        EXPECT_EQ(parseLegacyTime(text), std::nullopt);
    }
}

TEST(ParseRfc3339, RefusesDatesAndTimesThatDoNotExist) {
    for (const auto text : kImpossibleDateTimes) {
        std::string rfc3339(text);
        rfc3339[10] = 'T';
        rfc3339 += 'Z';
        SCOPED_TRACE(rfc3339);
        EXPECT_EQ(parseRfc3339(rfc3339), std::nullopt);
    }
}

TEST(ParseLegacyTime, RefusesAnythingButTheExactFormat) {
    for (const std::string_view text : {
             "",
             "2026-03-14",
             "2026-03-14 09:26",
             "2026-03-14T09:26:53",   // the new panel's separator
             "2026-03-14 09:26:53Z",  // a zone
             "2026-03-14 09:26:53.5",
             "2026-03-14  09:26:53",
             " 2026-03-14 09:26:53",
             "2026-03-14 09:26:53 ",
             "2026-3-14 09:26:53",
             "2026-03-4 09:26:53 ",
             "26-03-14 09:26:53",
             "+026-03-14 09:26:53",
             "2026/03/14 09:26:53",
             "2026-03-14 09.26.53",
             "2026-03-14 9:26:53 ",
             "2026-03-14 09:26:5x",
             "20x6-03-14 09:26:53",
             "2026-03-14_09:26:53",
             "12026-03-14 09:26:53",
         }) {
        SCOPED_TRACE(text);
        EXPECT_EQ(parseLegacyTime(text), std::nullopt);
    }
}

TEST(ParseRfc3339, AppliesOffsetsAndDropsFractions) {
    struct Row {
        std::string_view text;
        std::int64_t secondsSinceEpoch;
    };
    for (const auto& row : {
             Row{"2026-03-14T09:26:53Z", 1773480413},
             Row{"2026-03-14t09:26:53z", 1773480413},  // RFC 3339 allows lower case
             Row{"2026-03-14T09:26:53+00:00", 1773480413}, Row{"2026-03-14T09:26:53-00:00", 1773480413},
             Row{"2026-03-14T09:26:53+02:00", 1773473213},  // 07:26:53Z
             Row{"2026-03-14T09:26:53-05:30", 1773500213},  // 14:56:53Z
             Row{"2026-03-14T09:26:53+23:59", 1773394073},  // 09:27:53Z the day before
             Row{"2026-03-14T09:26:53.5Z", 1773480413}, Row{"2026-03-14T09:26:53.999999999Z", 1773480413},
             Row{"2026-03-14T09:26:53.000+02:00", 1773473213}, Row{"1970-01-01T00:00:00.999Z", 0},
             Row{"1969-12-31T23:59:59.5Z", -1},  // rounded down, toward the earlier second
             Row{"1970-01-01T00:59:59+01:00", -1}, Row{"1969-12-31T23:00:00-01:00", 0},
             Row{"2000-03-01T00:30:00+01:00", 951867000},     // 2000-02-29T23:30:00Z
             Row{"9999-12-31T23:59:59-01:00", 253402304399},  // past year 9999 in UTC: still a time
         }) {
        SCOPED_TRACE(row.text);
        EXPECT_EQ(parseRfc3339(row.text), row.secondsSinceEpoch);
    }
}

TEST(ParseRfc3339, RefusesAnythingElse) {
    for (const std::string_view text : {
             "",
             "2026-03-14T09:26:53",   // no zone
             "2026-03-14 09:26:53Z",  // the legacy separator
             "2026-03-14_09:26:53Z",
             "2026-03-14T09:26Z",
             "2026-03-14Z",
             "2026-03-14T09:26:53.Z",  // a point without digits
             "2026-03-14T09:26:53.5",
             "2026-03-14T09:26:53,5Z",
             "2026-03-14T09:26:53.5.5Z",
             "2026-03-14T09:26:53.5xZ",
             "2026-03-14T09:26:53ZZ",
             "2026-03-14T09:26:53Z ",
             " 2026-03-14T09:26:53Z",
             "2026-03-14T09:26:53+02:00Z",
             "2026-03-14T09:26:53UTC",
             "2026-03-14T09:26:53+0200",
             "2026-03-14T09:26:53+02",
             "2026-03-14T09:26:53+2:00",
             "2026-03-14T09:26:53 +02:00",
             "2026-03-14T09:26:53+24:00",
             "2026-03-14T09:26:53+02:60",
             "2026-03-14T09:26:53*02:00",
             "2026-03-14T09:26:53+02-00",
             "2026-03-14T09:26:53+0x:00",
             "2026-3-14T09:26:53Z",
             "+2026-03-14T09:26:53Z",
             "12026-03-14T09:26:53Z",
         }) {
        SCOPED_TRACE(text);
        EXPECT_EQ(parseRfc3339(text), std::nullopt);
    }
}

}  // namespace
}  // namespace bridge::mappings
