#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bridge::testsupport {

// Every kind of row the legacy database holds in production (legacy-schema.sql, OPERATIONS.md), clean ones
// included, so that a test can name the organizations that must end a certain way.
enum class LegacyCase {
    // The connectivity row, one case per organization that has one (soft-deleted ones included).
    NoConnectivityRow,
    NeverConnected,          // status 0, no environment, no token
    Established,             // status 1, token under the current key
    EstablishedUnderOldKey,  // status 1, token under the rotated-away key, which is still configured
    Lost,                    // status 2, token, last_error, half of the active users suspended with that error
    TokenNull,               // status 1, refresh_token_enc NULL (a half-finished connect)
    TokenEmpty,              // status 1, refresh_token_enc ''
    TokenUnderUnknownKey,    // status 1, token under a key nobody has any more
    TokenNotBase64,          // status 1, refresh_token_enc not base64
    ToggleOffWithToken,      // sa_login_enabled 0, status 1, a token left behind
    ApiOnlyUser,             // auth_method 'api_only_user', status 0
    // Traits an organization may have on top of its connectivity case.
    SoftDeleted,           // is_deleted 1: users and connectivity row present, nothing may migrate
    LowerCaseEnvironment,  // sf_environment 'p' or 's'
    FifteenCharacterIds,   // sa_user_id, sf_org_id and the users' sf_user_id in the 15-character form
    UnusualName,           // emoji, quotes, backslashes, tabs in the organization's and users' names
    CaseTwinUsers,         // two users whose emails differ only in letter case (see caseTwins)
    InactiveUser,          // at least one user with is_active 0
    // Ids that have rows but no organizations row.
    OrphanConnectivityRow,
    OrphanUsers,
};

std::string_view legacyCaseName(LegacyCase legacyCase);

struct LegacyCaseTwin {
    std::int64_t orgId = 0;
    std::int64_t olderUserId = 0;  // reported as superseded
    std::int64_t newerUserId = 0;  // the real one, migrated
};

// What LegacyDataGenerator wrote: which organization ids got which case, and the keys that open the tokens.
struct LegacyDataManifest {
    std::uint64_t seed = 0;
    std::string currentKeyHex;
    std::string oldKeyHex;
    std::string tokenKeys;  // legacy.tokenKeys for the migrator: the current key, then the old one

    std::int64_t organizationRows = 0;  // soft-deleted included
    std::int64_t connectivityRows = 0;  // orphans included
    std::int64_t userRows = 0;          // orphans included

    // Ascending ids per case.
    std::map<LegacyCase, std::vector<std::int64_t>> organizations;
    std::vector<LegacyCaseTwin> caseTwins;
    std::vector<std::int64_t> suspendedUsers;  // users with sync_state 'suspended'
    std::vector<std::int64_t> orphanUsers;     // user ids of OrphanUsers

    const std::vector<std::int64_t>& organizationsWith(LegacyCase legacyCase) const;
    bool has(std::int64_t orgId, LegacyCase legacyCase) const;

    // The manifest as JSON, for legacy-datagen --manifest.
    std::string toJson() const;
};

}  // namespace bridge::testsupport
