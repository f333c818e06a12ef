#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bridge::mappings {

// The longest email the legacy database holds (org_users.email is VARCHAR(320)).
inline constexpr std::size_t kMaxEmailLength = 320;

// The key under which emails compare with letter case ignored: ASCII letters lower-cased, every other byte kept.
std::string normalizeEmail(std::string_view email);

// A plausibility check, not RFC 5322: exactly one '@', a non-empty local part, a domain of at least two
// non-empty dot-separated labels, no space or control character, at most kMaxEmailLength bytes.
bool looksLikeEmail(std::string_view text);

}  // namespace bridge::mappings
