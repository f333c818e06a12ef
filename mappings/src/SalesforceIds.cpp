#include "mappings/SalesforceIds.h"

#include <algorithm>
#include <cstddef>

namespace bridge::mappings {

namespace {

constexpr std::size_t kShortLength = 15;
constexpr std::size_t kLongLength = 18;
constexpr std::size_t kChunkLength = 5;
constexpr std::string_view kSuffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

bool isAsciiUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool isAsciiLower(char c) { return c >= 'a' && c <= 'z'; }
bool isAsciiAlphanumeric(char c) { return isAsciiUpper(c) || isAsciiLower(c) || (c >= '0' && c <= '9'); }
char toAsciiUpper(char c) { return isAsciiLower(c) ? static_cast<char>(c - 'a' + 'A') : c; }
char toAsciiLower(char c) { return isAsciiUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

// Appends the three characters that say which letters of the 15-character id are upper case.
void appendCaseSuffix(std::string& id) {
    for (std::size_t chunk = 0; chunk < kShortLength; chunk += kChunkLength) {
        unsigned upperCaseBits = 0;
        for (std::size_t i = 0; i < kChunkLength; ++i) {
            if (isAsciiUpper(id[chunk + i])) upperCaseBits |= 1U << i;
        }
        id += kSuffixAlphabet[upperCaseBits];
    }
}

bool equalIgnoringAsciiCase(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](char x, char y) { return toAsciiUpper(x) == toAsciiUpper(y); });
}

}  // namespace

std::optional<std::string> toSalesforceId18(std::string_view id) {
    if (id.size() != kShortLength && id.size() != kLongLength) return std::nullopt;
    if (!std::all_of(id.begin(), id.end(), isAsciiAlphanumeric)) return std::nullopt;
    // The first 15 characters, case restored, then their suffix, appended in place.
    std::string longId;
    longId.reserve(kLongLength);
    longId.assign(id.substr(0, kShortLength));
    if (id.size() == kLongLength) {
        // The 18-character form is case-insensitive: its suffix says which letters of the first 15 are upper
        // case, so the case is restored from it (a digit marked upper case means the id is not one).
        for (std::size_t chunk = 0; chunk < kShortLength / kChunkLength; ++chunk) {
            const auto upperCaseBits = kSuffixAlphabet.find(toAsciiUpper(id[kShortLength + chunk]));
            if (upperCaseBits == std::string_view::npos) return std::nullopt;
            for (std::size_t i = 0; i < kChunkLength; ++i) {
                char& c = longId[chunk * kChunkLength + i];
                const bool upper = (upperCaseBits >> i) & 1U;
                if (isAsciiUpper(c) || isAsciiLower(c)) {
                    c = upper ? toAsciiUpper(c) : toAsciiLower(c);
                } else if (upper) {
                    return std::nullopt;
                }
            }
        }
    }
    appendCaseSuffix(longId);
    return longId;
}

bool sameSalesforceId(std::string_view a, std::string_view b) {
    const auto longA = toSalesforceId18(a);
    const auto longB = toSalesforceId18(b);
    return longA && longB && equalIgnoringAsciiCase(*longA, *longB);
}

}  // namespace bridge::mappings
