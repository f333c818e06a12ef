#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// Times are whole seconds since the Unix epoch, UTC, proleptic Gregorian calendar, no leap seconds.
// The legacy panel writes "YYYY-MM-DD HH:MM:SS" (UTC), the new panel RFC 3339 ("2026-03-14T09:26:53Z").

namespace bridge::mappings {

// What four-digit years can express: 0000-01-01 00:00:00 to 9999-12-31 23:59:59 UTC.
inline constexpr std::int64_t kEarliestFormattableTime = -62167219200;
inline constexpr std::int64_t kLatestFormattableTime = 253402300799;

// Both formatters clamp a time outside [kEarliestFormattableTime, kLatestFormattableTime] to that range.
std::string formatLegacyTime(std::int64_t secondsSinceEpoch);
std::string formatRfc3339(std::int64_t secondsSinceEpoch);

// Exactly "YYYY-MM-DD HH:MM:SS" with a real calendar date, hours 00-23, minutes and seconds 00-59.
std::optional<std::int64_t> parseLegacyTime(std::string_view text);

// "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)", 'T' and 'Z' in either case as RFC 3339 allows.
// The fraction is dropped (the time is rounded down to its second); a leap second (:60) is refused.
std::optional<std::int64_t> parseRfc3339(std::string_view text);

}  // namespace bridge::mappings
