#include "mappings/Emails.h"

#include <algorithm>

namespace bridge::mappings {

namespace {

char toAsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool isSpaceOrControl(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte == 0x7F;
}

bool isDomainWithDot(std::string_view domain) {
    return domain.find('.') != std::string_view::npos && domain.front() != '.' && domain.back() != '.' &&
           domain.find("..") == std::string_view::npos;
}

}  // namespace

std::string normalizeEmail(std::string_view email) {
    std::string normalized(email);
    std::transform(normalized.begin(), normalized.end(), normalized.begin(), toAsciiLower);
    return normalized;
}

bool looksLikeEmail(std::string_view text) {
    if (text.empty() || text.size() > kMaxEmailLength) return false;
    if (std::any_of(text.begin(), text.end(), isSpaceOrControl)) return false;
    const auto at = text.find('@');
    if (at == std::string_view::npos || text.find('@', at + 1) != std::string_view::npos) return false;
    const auto local = text.substr(0, at);
    const auto domain = text.substr(at + 1);
    return !local.empty() && !domain.empty() && isDomainWithDot(domain);
}

}  // namespace bridge::mappings
