#include "bridge/services/Directory.h"

#include "bridge/base/Error.h"
#include "mappings/Emails.h"
#include "mappings/SalesforceIds.h"

namespace bridge {

namespace {

constexpr std::size_t kMaxNameLength = 255;

OrganizationScope scopeOf(const Principal& caller) {
    OrganizationScope scope;
    scope.all = caller.role == Role::Support;
    if (caller.role == Role::OrgAdmin) scope.legacyIds = caller.organizations;
    return scope;
}

Error organizationNotFound() { return Error(ErrorCode::OrganizationNotFound, "No such organization."); }

Error userNotFound() { return Error(ErrorCode::UserNotFound, "No such user."); }

void checkName(const std::optional<std::string>& name, const std::string& field) {
    if (name && name->size() > kMaxNameLength) throwValidation(field, field + " must be at most 255 bytes");
}

}  // namespace

void checkPageLimit(int limit, const std::string& field) {
    if (limit < 1 || limit > Directory::kMaxPageSize) throwValidation(field, field + " must be from 1 to 500");
}

std::string salesforceIdFromInput(const std::string& value, const std::string& field) {
    auto id18 = mappings::toSalesforceId18(value);
    if (!id18) throwValidation(field, field + " is not a 15- or 18-character Salesforce id");
    return *id18;
}

Directory::Directory(Store& store, std::int64_t firstNewLegacyId)
    : store_(store), firstNewLegacyId_(firstNewLegacyId) {}

std::vector<Organization> Directory::organizations(const Principal& caller, std::int64_t afterLegacyId, int limit) {
    return store_.listOrganizations(scopeOf(caller), afterLegacyId, limit);
}

Organization Directory::organization(const Principal& caller, std::int64_t legacyId) {
    if (!scopeOf(caller).allows(legacyId)) throw organizationNotFound();
    auto found = store_.findOrganization(legacyId);
    if (!found) throw organizationNotFound();
    return *found;
}

Organization Directory::profile(const Principal& caller, const std::string& publicId) {
    auto found = store_.findOrganizationByPublicId(publicId);
    if (!found || !scopeOf(caller).allows(found->legacyId)) throw organizationNotFound();
    return *found;
}

Organization Directory::createProfile(const Principal& caller, const std::string& name) {
    if (caller.role != Role::Support) throw Error(ErrorCode::Forbidden, "Only support may create profiles.");
    if (name.empty()) throwValidation("name", "name must not be empty");
    checkName(name, "name");
    return store_.createOrganization(name, firstNewLegacyId_);
}

UserListing Directory::usersByOffset(const Organization& organization, std::int64_t offset, int limit) {
    checkPageLimit(limit, "limit");
    if (offset < 0) throwValidation("offset", "offset must not be negative");
    return {store_.countUsers(organization.legacyId), store_.listUsersByOffset(organization.legacyId, offset, limit)};
}

std::vector<User> Directory::usersAfter(const Organization& organization, std::int64_t afterLegacyId, int limit) {
    checkPageLimit(limit, "limit");
    return store_.listUsersAfter(organization.legacyId, afterLegacyId, limit);
}

User Directory::user(const Organization& organization, std::int64_t legacyUserId) {
    auto found = store_.findUser(legacyUserId);
    if (!found || found->orgId != organization.legacyId) throw userNotFound();
    return *found;
}

User Directory::userByPublicId(const Organization& organization, const std::string& publicId) {
    auto found = store_.findUserByPublicId(publicId);
    if (!found || found->orgId != organization.legacyId) throw userNotFound();
    return *found;
}

User Directory::createUser(const Organization& organization, const UserDraft& draft) {
    if (!mappings::looksLikeEmail(draft.email)) throwValidation("email", "email is not an email address");
    checkName(draft.displayName, "displayName");
    NewUser user;
    user.orgId = organization.legacyId;
    user.email = draft.email;
    user.displayName = draft.displayName;
    if (draft.salesforceUserId)
        user.salesforceUserId = salesforceIdFromInput(*draft.salesforceUserId, "salesforceUserId");
    user.active = draft.active;
    return store_.createUser(user, firstNewLegacyId_);
}

User Directory::updateUser(const Organization& organization, const std::string& publicId, UserChanges changes) {
    const User existing = userByPublicId(organization, publicId);
    if (changes.displayName) checkName(*changes.displayName, "displayName");
    if (changes.salesforceUserId && *changes.salesforceUserId) {
        *changes.salesforceUserId = salesforceIdFromInput(**changes.salesforceUserId, "salesforceUserId");
    }
    return store_.updateUser(existing.legacyId, changes);
}

}  // namespace bridge
