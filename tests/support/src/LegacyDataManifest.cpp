#include "testsupport/LegacyDataManifest.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <sstream>

namespace bridge::testsupport {

std::string_view legacyCaseName(LegacyCase legacyCase) {
    switch (legacyCase) {
        case LegacyCase::NoConnectivityRow: return "no-connectivity-row";
        case LegacyCase::NeverConnected: return "never-connected";
        case LegacyCase::Established: return "established";
        case LegacyCase::EstablishedUnderOldKey: return "established-under-old-key";
        case LegacyCase::Lost: return "lost";
        case LegacyCase::TokenNull: return "token-null";
        case LegacyCase::TokenEmpty: return "token-empty";
        case LegacyCase::TokenUnderUnknownKey: return "token-under-unknown-key";
        case LegacyCase::TokenNotBase64: return "token-not-base64";
        case LegacyCase::ToggleOffWithToken: return "toggle-off-with-token";
        case LegacyCase::ApiOnlyUser: return "api-only-user";
        case LegacyCase::SoftDeleted: return "soft-deleted";
        case LegacyCase::LowerCaseEnvironment: return "lower-case-environment";
        case LegacyCase::FifteenCharacterIds: return "fifteen-character-ids";
        case LegacyCase::UnusualName: return "unusual-name";
        case LegacyCase::CaseTwinUsers: return "case-twin-users";
        case LegacyCase::InactiveUser: return "inactive-user";
        case LegacyCase::OrphanConnectivityRow: return "orphan-connectivity-row";
        case LegacyCase::OrphanUsers: return "orphan-users";
    }
    return "unknown";
}

const std::vector<std::int64_t>& LegacyDataManifest::organizationsWith(LegacyCase legacyCase) const {
    static const std::vector<std::int64_t> kNone;
    const auto found = organizations.find(legacyCase);
    return found == organizations.end() ? kNone : found->second;
}

bool LegacyDataManifest::has(std::int64_t orgId, LegacyCase legacyCase) const {
    const auto& ids = organizationsWith(legacyCase);
    return std::binary_search(ids.begin(), ids.end(), orgId);
}

std::string LegacyDataManifest::toJson() const {
    const auto idArray = [](const std::vector<std::int64_t>& ids) {
        Poco::JSON::Array::Ptr array = new Poco::JSON::Array;
        for (auto id : ids) array->add(id);
        return array;
    };
    Poco::JSON::Object root;
    root.set("seed", std::to_string(seed));
    root.set("tokenKeys", tokenKeys);
    root.set("organizationRows", organizationRows);
    root.set("connectivityRows", connectivityRows);
    root.set("userRows", userRows);
    Poco::JSON::Object::Ptr cases = new Poco::JSON::Object;
    for (const auto& [legacyCase, ids] : organizations)
        cases->set(std::string(legacyCaseName(legacyCase)), idArray(ids));
    root.set("organizations", cases);
    Poco::JSON::Array::Ptr twins = new Poco::JSON::Array;
    for (const auto& twin : caseTwins) {
        Poco::JSON::Object::Ptr entry = new Poco::JSON::Object;
        entry->set("orgId", twin.orgId);
        entry->set("olderUserId", twin.olderUserId);
        entry->set("newerUserId", twin.newerUserId);
        twins->add(entry);
    }
    root.set("caseTwins", twins);
    root.set("suspendedUsers", idArray(suspendedUsers));
    root.set("orphanUsers", idArray(orphanUsers));
    std::ostringstream text;
    root.stringify(text, 1);
    return text.str();
}

}  // namespace bridge::testsupport
