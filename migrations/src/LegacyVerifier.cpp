#include "migrations/LegacyVerifier.h"

#include <openssl/crypto.h>

#include <map>
#include <set>

#include "mappings/ConnectionNames.h"
#include "mappings/Emails.h"
#include "migrations/RunUntilADatabaseFails.h"

namespace bridge::migrations {

namespace {

constexpr int kStorePage = 500;

std::string text(const std::string& value) { return "\"" + value + "\""; }
std::string text(const std::optional<std::string>& value) { return value ? text(*value) : "absent"; }
std::string text(bool value) { return value ? "true" : "false"; }
std::string text(const std::optional<UnixSeconds>& value) { return value ? std::to_string(*value) : "absent"; }
std::string text(ConnectionStatus status) { return std::string(mappings::legacyStatusName(status)); }
std::string text(const std::optional<Environment>& value) {
    return value ? std::string(mappings::environmentName(*value)) : "absent";
}

std::string organizationSubject(std::int64_t orgId) { return "organization " + std::to_string(orgId); }

}  // namespace

std::string VerificationSummary::line() const {
    return "verified " + std::to_string(organizations) + " organizations, differences " + std::to_string(differences);
}

int VerificationSummary::exitCode() const { return abortedBecause || differences > 0 ? 1 : 0; }

LegacyVerifier::LegacyVerifier(Store& store, const LegacyOrganizationTranslator& translator, const TokenCipher& cipher,
                               std::int64_t firstNewLegacyId, std::ostream& report)
    : store_(store), translator_(translator), cipher_(cipher), firstNewLegacyId_(firstNewLegacyId), report_(report) {}

VerificationSummary LegacyVerifier::run(LegacyReader& reader, MigrationProgress& progress) {
    VerificationSummary summary;
    wholeDatabase_ = !reader.selective();
    summary.abortedBecause = runUntilADatabaseFails([&] {
        // Orphans migrate to nothing: an organization of the store with an orphan's id is reported by
        // reportStoreOnlyBefore like any other that the legacy database lacks (verifyAbsent, for a selection).
        for (auto batch = reader.nextBatch(); !batch.empty(); batch = reader.nextBatch()) {
            for (const auto& organization : batch.organizations) verify(organization, summary);
            for (const auto& orphan : batch.orphans) {
                if (!wholeDatabase_) verifyAbsent(orphan.orgId, summary);
            }
            for (const auto orgId : batch.notFound) {
                report_ << LegacyOrganizationTranslator::notFoundLine(orgId) << "\n";
                verifyAbsent(orgId, summary);
            }
            progress.advance(static_cast<std::int64_t>(batch.organizations.size()));
        }
        if (wholeDatabase_) reportStoreOnlyBefore(firstNewLegacyId_, summary);
    });
    progress.finish();
    if (summary.abortedBecause) report_ << "verification stopped: " << *summary.abortedBecause << "\n";
    report_ << summary.line() << std::endl;
    return summary;
}

void LegacyVerifier::compareField(const std::string& subject, const std::string& name, const std::string& storeValue,
                                  const std::string& wanted, VerificationSummary& summary) {
    if (storeValue != wanted)
        difference(subject, name + " is " + storeValue + ", a migration gives " + wanted, summary);
}

void LegacyVerifier::difference(const std::string& subject, const std::string& what, VerificationSummary& summary) {
    ++summary.differences;
    report_ << "difference in " << subject << ": " << what << "\n";
}

void LegacyVerifier::reportStoreOnlyBefore(std::int64_t legacyId, VerificationSummary& summary) {
    while (true) {
        if (storeAhead_.empty()) {
            if (storeExhausted_) return;
            OrganizationScope everything;
            everything.all = true;
            auto page = store_.listOrganizations(everything, storeReadAfter_, kStorePage);
            if (page.empty()) {
                storeExhausted_ = true;
                return;
            }
            storeReadAfter_ = page.back().legacyId;
            storeAhead_.insert(storeAhead_.end(), page.begin(), page.end());
        }
        const auto& front = storeAhead_.front();
        if (front.legacyId >= legacyId) return;
        if (front.legacyId < firstNewLegacyId_) {
            difference(organizationSubject(front.legacyId), "in the store but not in the legacy database", summary);
        }
        storeAhead_.pop_front();
    }
}

void LegacyVerifier::verifyAbsent(std::int64_t orgId, VerificationSummary& summary) {
    if (orgId < firstNewLegacyId_ && store_.findOrganization(orgId)) {
        difference(organizationSubject(orgId), "in the store but not in the legacy database", summary);
    }
}

void LegacyVerifier::verify(const LegacyOrganization& legacy, VerificationSummary& summary) {
    const std::int64_t orgId = legacy.row.id;
    ++summary.organizations;
    std::optional<Organization> stored;
    if (!wholeDatabase_) {
        stored = store_.findOrganization(orgId);
    } else {
        reportStoreOnlyBefore(orgId, summary);
        if (!storeAhead_.empty() && storeAhead_.front().legacyId == orgId) {
            stored = storeAhead_.front();
            storeAhead_.pop_front();
        }
    }
    const auto translated = translator_.translate(legacy);
    // Skipped by a migration (soft-deleted), or an id the new panel allocates: a conflict, skipped too.
    if (!translated.migrated || orgId >= firstNewLegacyId_) return;
    const auto& expected = *translated.migrated;
    const std::string subject = organizationSubject(orgId);
    if (!stored) {
        if (!heldElsewhere(expected, {})) difference(subject, "missing from the store", summary);
        return;
    }
    auto storedUsers = usersOf(orgId);
    if (heldElsewhere(expected, storedUsers)) return;
    compareField(subject, "name", text(stored->name), text(expected.organization.name), summary);
    compareUsers(expected, std::move(storedUsers), summary);
    compareConnection(expected, summary);
}

std::map<std::int64_t, User> LegacyVerifier::usersOf(std::int64_t orgId) {
    std::map<std::int64_t, User> users;
    for (std::int64_t after = 0;;) {
        const auto page = store_.listUsersAfter(orgId, after, kStorePage);
        for (const auto& user : page) users.emplace(user.legacyId, user);
        if (static_cast<int>(page.size()) < kStorePage) return users;
        after = page.back().legacyId;
    }
}

// A user id of this organization held by another organization makes a migration report a conflict. Only the
// users the store does not hold under this organization can be elsewhere.
bool LegacyVerifier::heldElsewhere(const MigratedOrganization& expected,
                                   const std::map<std::int64_t, User>& storedUsers) {
    std::set<std::int64_t> expectedIds;
    for (const auto& user : expected.users) expectedIds.insert(user.legacyId);
    for (const auto& user : expected.users) {
        if (storedUsers.contains(user.legacyId)) continue;
        const auto holder = store_.findUser(user.legacyId);
        if (holder && holder->orgId != expected.organization.legacyId) return true;
        // Its email taken in the organization by a user the migration does not give (one made in the new panel).
        const std::string emailKey = mappings::normalizeEmail(user.email);
        for (const auto& [storedId, stored] : storedUsers) {
            if (!expectedIds.contains(storedId) && mappings::normalizeEmail(stored.email) == emailKey) return true;
        }
    }
    return false;
}

void LegacyVerifier::compareUsers(const MigratedOrganization& expected, std::map<std::int64_t, User> stored,
                                  VerificationSummary& summary) {
    const std::int64_t orgId = expected.organization.legacyId;
    for (const auto& want : expected.users) {
        const std::string subject = "user " + std::to_string(want.legacyId) + " of " + organizationSubject(orgId);
        const auto found = stored.find(want.legacyId);
        if (found == stored.end()) {
            difference(subject, "missing from the store", summary);
            continue;
        }
        const User& have = found->second;
        compareField(subject, "email", text(have.email), text(want.email), summary);
        compareField(subject, "display name", text(have.displayName), text(want.displayName), summary);
        compareField(subject, "Salesforce user id", text(have.salesforceUserId), text(want.salesforceUserId), summary);
        compareField(subject, "active", text(have.active), text(want.active), summary);
        compareField(subject, "sync suspended", text(have.syncSuspended), text(want.syncSuspended), summary);
        compareField(subject, "suspend reason", text(have.suspendReason), text(want.suspendReason), summary);
        compareField(subject, "suspended by loss", text(have.suspendedByLoss), text(want.suspendedByLoss), summary);
        stored.erase(found);
    }
    for (const auto& [userId, user] : stored) {
        if (userId >= firstNewLegacyId_) continue;
        difference("user " + std::to_string(userId) + " of " + organizationSubject(orgId),
                   "in the store but not what a migration gives", summary);
    }
}

void LegacyVerifier::compareConnection(const MigratedOrganization& expected, VerificationSummary& summary) {
    const std::int64_t orgId = expected.organization.legacyId;
    const Connection have = store_.loadConnection(orgId);
    // Changed by the server after the migration wrote it (a panel, a login, the broker): a migration leaves it.
    if (have.changedByAdminAt || have.version > 1) return;
    const Connection want = expected.connection.value_or(Connection{});
    const std::string subject = "the connection of " + organizationSubject(orgId);
    compareField(subject, "status", text(have.status), text(want.status), summary);
    compareField(subject, "service account login", text(have.serviceAccountLoginEnabled),
                 text(want.serviceAccountLoginEnabled), summary);
    compareField(subject, "authorization method", text(have.authorizationMethod), text(want.authorizationMethod),
                 summary);
    compareField(subject, "environment", text(have.environment), text(want.environment), summary);
    compareField(subject, "service account user id", text(have.serviceAccountUserId), text(want.serviceAccountUserId),
                 summary);
    compareField(subject, "service account username", text(have.serviceAccountUsername),
                 text(want.serviceAccountUsername), summary);
    compareField(subject, "Salesforce organization id", text(have.salesforceOrgId), text(want.salesforceOrgId),
                 summary);
    compareField(subject, "instance URL", text(have.instanceUrl), text(want.instanceUrl), summary);
    compareField(subject, "status changed at", text(have.statusChangedAt), text(want.statusChangedAt), summary);
    compareField(subject, "connected at", text(have.connectedAt), text(want.connectedAt), summary);
    compareField(subject, "last error", text(have.lastError), text(want.lastError), summary);

    if (have.refreshToken.has_value() != want.refreshToken.has_value()) {
        difference(subject,
                   std::string("refresh token is ") + (have.refreshToken ? "present" : "absent") +
                       ", a migration gives " + (want.refreshToken ? "one" : "none"),
                   summary);
        return;
    }
    if (!have.refreshToken) return;
    const std::string associatedData = LegacyOrganizationTranslator::refreshTokenAssociatedData(orgId);
    std::string wanted = cipher_.open(*want.refreshToken, associatedData);
    try {
        std::string held = cipher_.open(*have.refreshToken, associatedData);
        if (held != wanted) difference(subject, "refresh token differs from the legacy one", summary);
        OPENSSL_cleanse(held.data(), held.size());
    } catch (const TokenCipherError&) {
        difference(subject, "refresh token in the store cannot be opened with the configured keys", summary);
    }
    OPENSSL_cleanse(wanted.data(), wanted.size());
}

}  // namespace bridge::migrations
