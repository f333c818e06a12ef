#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bridge/crypto/TokenAuthority.h"
#include "bridge/store/Store.h"

namespace bridge {

struct UserListing {
    std::int64_t total = 0;
    std::vector<User> users;
};

// A new user as a panel submitted it: validated and normalized here, once, for both panels.
struct UserDraft {
    std::string email;
    std::optional<std::string> displayName;
    std::optional<std::string> salesforceUserId;  // 15 or 18 characters
    bool active = true;
};

// Organizations (profiles) and their users as the panels see them, within the caller's scope. An organization
// or user outside the scope is reported exactly like one that does not exist.
class Directory {
public:
    static constexpr int kMaxPageSize = 500;

    Directory(Store& store, std::int64_t firstNewLegacyId);

    std::vector<Organization> organizations(const Principal& caller, std::int64_t afterLegacyId, int limit);
    Organization organization(const Principal& caller, std::int64_t legacyId);
    Organization profile(const Principal& caller, const std::string& publicId);
    Organization createProfile(const Principal& caller, const std::string& name);

    UserListing usersByOffset(const Organization& organization, std::int64_t offset, int limit);
    std::vector<User> usersAfter(const Organization& organization, std::int64_t afterLegacyId, int limit);
    User user(const Organization& organization, std::int64_t legacyUserId);
    User userByPublicId(const Organization& organization, const std::string& publicId);
    User createUser(const Organization& organization, const UserDraft& draft);
    User updateUser(const Organization& organization, const std::string& publicId, UserChanges changes);

private:
    Store& store_;
    std::int64_t firstNewLegacyId_;
};

// Throws ValidationFailed naming `field` unless 1 <= limit <= Directory::kMaxPageSize.
void checkPageLimit(int limit, const std::string& field);

// The 18-character form of a Salesforce id a panel sent, or ValidationFailed naming `field`.
std::string salesforceIdFromInput(const std::string& value, const std::string& field);

}  // namespace bridge
