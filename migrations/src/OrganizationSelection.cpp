#include "migrations/OrganizationSelection.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <optional>
#include <string>

namespace bridge::migrations {

namespace {

std::string_view trimmed(std::string_view text) {
    constexpr std::string_view kSpace = " \t\r";
    const auto first = text.find_first_not_of(kSpace);
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

// Digits only (no sign, no spaces inside, no thousands separator), within the legacy id column's range.
std::optional<std::int64_t> legacyId(std::string_view text) {
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    const auto [end, failure] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (failure != std::errc() || end != text.data() + text.size() || value < 1 ||
        value > OrganizationSelection::kLargestLegacyId) {
        return std::nullopt;
    }
    return value;
}

std::string malformed(std::string_view where, std::string_view text) {
    // The text is echoed only as far as a short id goes: a wrong file (a key file, say) is not copied to the
    // terminal.
    constexpr std::size_t kLongestEcho = 24;
    std::string shown(text.substr(0, kLongestEcho));
    if (text.size() > kLongestEcho) shown += "...";
    return std::string(where) + ": '" + shown + "' is not a legacy organization id (a whole number from 1 to " +
           std::to_string(OrganizationSelection::kLargestLegacyId) + ")";
}

}  // namespace

OrganizationSelection OrganizationSelection::fromList(std::string_view list, std::string_view option) {
    OrganizationSelection selection;
    while (true) {
        const auto comma = list.find(',');
        const std::string_view item = trimmed(list.substr(0, comma));
        const auto id = legacyId(item);
        if (!id) throw OrganizationSelectionError(malformed(option, item));
        selection.ids_.push_back(*id);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    selection.normalize();
    return selection;
}

OrganizationSelection OrganizationSelection::fromFile(const std::filesystem::path& path) {
    const std::string unreadable = "--orgs-from " + path.string() + ": cannot be read";
    // A directory opens like a file, and reading it fails as an end of file would. Anything else that opens is
    // read: a regular file, a pipe (`--orgs-from <(...)`).
    std::error_code ignored;
    if (std::filesystem::is_directory(path, ignored)) throw OrganizationSelectionError(unreadable + " (a directory)");
    std::ifstream file(path);
    if (!file) throw OrganizationSelectionError(unreadable);
    OrganizationSelection selection;
    std::string line;
    for (int number = 1; std::getline(file, line); ++number) {
        const std::string_view item = trimmed(std::string_view(line).substr(0, line.find('#')));
        if (item.empty()) continue;
        const auto id = legacyId(item);
        if (!id)
            throw OrganizationSelectionError(
                malformed("--orgs-from " + path.string() + " line " + std::to_string(number), item));
        selection.ids_.push_back(*id);
    }
    if (file.bad()) throw OrganizationSelectionError(unreadable);
    if (selection.empty()) {
        throw OrganizationSelectionError("--orgs-from " + path.string() + ": names no organization");
    }
    selection.normalize();
    return selection;
}

void OrganizationSelection::add(const OrganizationSelection& other) {
    ids_.insert(ids_.end(), other.ids_.begin(), other.ids_.end());
    normalize();
}

void OrganizationSelection::normalize() {
    std::sort(ids_.begin(), ids_.end());
    ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
}

}  // namespace bridge::migrations
