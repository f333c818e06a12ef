#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// The legacy database's rows as they are (legacy-schema.sql), dirty values included: nothing is translated here.
// Times are the columns' "YYYY-MM-DD HH:MM:SS" text.

namespace bridge::migrations {

struct LegacyOrganizationRow {
    std::int64_t id = 0;
    std::string name;
    std::string createdAt;
    bool deleted = false;
};

struct LegacyConnectivityRow {
    std::int64_t orgId = 0;
    bool serviceAccountLoginEnabled = false;
    std::string authMethod;
    std::optional<std::string> environment;
    std::optional<std::string> serviceAccountUserId;
    std::optional<std::string> serviceAccountUsername;
    std::optional<std::string> salesforceOrgId;
    std::optional<std::string> instanceUrl;
    std::optional<std::string> refreshTokenEncrypted;
    int status = 0;
    std::optional<std::string> statusChangedAt;
    std::optional<std::string> lastError;
    std::string updatedAt;
};

struct LegacyUserRow {
    std::int64_t id = 0;
    std::int64_t orgId = 0;
    std::string email;
    std::optional<std::string> displayName;
    std::optional<std::string> salesforceUserId;
    bool active = true;
    std::string syncState;
    std::optional<std::string> syncError;
};

// One organizations row with everything that belongs to it.
struct LegacyOrganization {
    LegacyOrganizationRow row;
    std::optional<LegacyConnectivityRow> connectivity;
    std::vector<LegacyUserRow> users;  // by id
};

// An organization id that rows point at although no organizations row has it.
struct LegacyOrphan {
    std::int64_t orgId = 0;
    bool connectivityRow = false;
    std::int64_t users = 0;
};

}  // namespace bridge::migrations
