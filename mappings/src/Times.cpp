#include "mappings/Times.h"

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace bridge::mappings {

namespace {

using std::chrono::days;
using std::chrono::seconds;
using std::chrono::sys_days;
using std::chrono::sys_seconds;

static_assert(sys_seconds{sys_days{std::chrono::year{0} / 1 / 1}}.time_since_epoch().count() ==
              kEarliestFormattableTime);
static_assert(sys_seconds{sys_days{std::chrono::year{9999} / 12 / 31} + days{1}}.time_since_epoch().count() - 1 ==
              kLatestFormattableTime);

// "YYYY-MM-DD?HH:MM:SS" is 19 characters; the separator at index 10 differs per format.
constexpr std::size_t kDateTimeLength = 19;
constexpr std::size_t kDateTimeSeparatorIndex = 10;

bool isDigit(char c) { return c >= '0' && c <= '9'; }

void appendPadded(std::string& out, unsigned value, std::size_t width) {
    std::string digits(width, '0');
    for (std::size_t i = width; i-- > 0 && value > 0; value /= 10) digits[i] = static_cast<char>('0' + value % 10);
    out += digits;
}

std::string formatDateTime(std::int64_t secondsSinceEpoch, char separator) {
    const auto clamped = std::clamp(secondsSinceEpoch, kEarliestFormattableTime, kLatestFormattableTime);
    const sys_seconds time{seconds{clamped}};
    const auto day = std::chrono::floor<days>(time);
    const std::chrono::year_month_day date{day};
    const std::chrono::hh_mm_ss timeOfDay{time - day};

    std::string out;
    out.reserve(kDateTimeLength + 1);
    appendPadded(out, static_cast<unsigned>(static_cast<int>(date.year())), 4);
    out += '-';
    appendPadded(out, static_cast<unsigned>(date.month()), 2);
    out += '-';
    appendPadded(out, static_cast<unsigned>(date.day()), 2);
    out += separator;
    appendPadded(out, static_cast<unsigned>(timeOfDay.hours().count()), 2);
    out += ':';
    appendPadded(out, static_cast<unsigned>(timeOfDay.minutes().count()), 2);
    out += ':';
    appendPadded(out, static_cast<unsigned>(timeOfDay.seconds().count()), 2);
    return out;
}

// The unsigned number written with exactly `width` digits at `position`, or nullopt.
std::optional<int> readDigits(std::string_view text, std::size_t position, std::size_t width) {
    if (position + width > text.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = position; i < position + width; ++i) {
        if (!isDigit(text[i])) return std::nullopt;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

// Reads "YYYY-MM-DD?HH:MM:SS" at the start of `text`, ignoring the separator at index 10 (the caller checks it).
std::optional<std::int64_t> readDateTime(std::string_view text) {
    if (text.size() < kDateTimeLength) return std::nullopt;
    if (text[4] != '-' || text[7] != '-' || text[13] != ':' || text[16] != ':') return std::nullopt;
    const auto year = readDigits(text, 0, 4);
    const auto month = readDigits(text, 5, 2);
    const auto day = readDigits(text, 8, 2);
    const auto hour = readDigits(text, 11, 2);
    const auto minute = readDigits(text, 14, 2);
    const auto second = readDigits(text, 17, 2);
    if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
    if (*hour > 23 || *minute > 59 || *second > 59) return std::nullopt;
    const std::chrono::year_month_day date{std::chrono::year{*year}, std::chrono::month{static_cast<unsigned>(*month)},
                                           std::chrono::day{static_cast<unsigned>(*day)}};
    if (!date.ok()) return std::nullopt;
    const auto time = sys_days{date} + std::chrono::hours{*hour} + std::chrono::minutes{*minute} + seconds{*second};
    return time.time_since_epoch().count();
}

// Seconds to subtract from a local time written with `offset` ("Z", "+HH:MM", "-HH:MM") to get UTC.
std::optional<std::int64_t> readUtcOffset(std::string_view offset) {
    if (offset == "Z" || offset == "z") return 0;
    if (offset.size() != 6 || (offset[0] != '+' && offset[0] != '-') || offset[3] != ':') return std::nullopt;
    const auto hours = readDigits(offset, 1, 2);
    const auto minutes = readDigits(offset, 4, 2);
    if (!hours || !minutes || *hours > 23 || *minutes > 59) return std::nullopt;
    const std::int64_t magnitude = *hours * 3600 + *minutes * 60;
    return offset[0] == '+' ? magnitude : -magnitude;
}

}  // namespace

std::string formatLegacyTime(std::int64_t secondsSinceEpoch) { return formatDateTime(secondsSinceEpoch, ' '); }

std::string formatRfc3339(std::int64_t secondsSinceEpoch) { return formatDateTime(secondsSinceEpoch, 'T') + 'Z'; }

std::optional<std::int64_t> parseLegacyTime(std::string_view text) {
    if (text.size() != kDateTimeLength || text[kDateTimeSeparatorIndex] != ' ') return std::nullopt;
    return readDateTime(text);
}

std::optional<std::int64_t> parseRfc3339(std::string_view text) {
    if (text.size() <= kDateTimeLength) return std::nullopt;
    const char separator = text[kDateTimeSeparatorIndex];
    if (separator != 'T' && separator != 't') return std::nullopt;
    const auto local = readDateTime(text);
    if (!local) return std::nullopt;

    auto rest = text.substr(kDateTimeLength);
    if (rest.front() == '.') {
        const auto fractionEnd = std::find_if(rest.begin() + 1, rest.end(), [](char c) { return !isDigit(c); });
        const auto fractionLength = static_cast<std::size_t>(fractionEnd - rest.begin()) - 1;
        if (fractionLength == 0) return std::nullopt;
        rest.remove_prefix(fractionLength + 1);
    }
    const auto offset = readUtcOffset(rest);
    if (!offset) return std::nullopt;
    return *local - *offset;
}

}  // namespace bridge::mappings
