#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace bridge::migrations {

// A list of organization ids that cannot be used: a malformed id, an unreadable file, no id at all. The message
// names the option or the file and line, and is meant for the command line (bad usage, exit code 2).
class OrganizationSelectionError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The legacy organizations a staged run (`bridge migrate --org ... / --orgs-from FILE`) is about: ids that fit the
// legacy INT UNSIGNED column (1 .. 4294967295), ascending and unique. Every id has been parsed as digits only, so
// the reader may write them into its SQL as integers.
class OrganizationSelection {
public:
    static constexpr std::int64_t kLargestLegacyId = 4294967295;

    // "1042" or "1042,7,99": what --org takes (spaces around an id are ignored).
    static OrganizationSelection fromList(std::string_view list, std::string_view option = "--org");
    // One id per line; blank lines and everything from '#' to the end of a line are ignored; CRLF line ends too.
    static OrganizationSelection fromFile(const std::filesystem::path& path);

    // The union of both.
    void add(const OrganizationSelection& other);

    const std::vector<std::int64_t>& ids() const { return ids_; }
    bool empty() const { return ids_.empty(); }

private:
    void normalize();  // ascending, unique

    std::vector<std::int64_t> ids_;
};

}  // namespace bridge::migrations
