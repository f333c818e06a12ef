#include "migrations/LegacyOrganizationTranslator.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <numeric>
#include <string_view>

#include "bridge/crypto/Secrets.h"
#include "mappings/ConnectionNames.h"
#include "mappings/Emails.h"
#include "mappings/SalesforceIds.h"
#include "mappings/Times.h"
#include "mappings/UserNames.h"

namespace bridge::migrations {

namespace {

// Changing a rule below changes this, so that a rerun rewrites what the old rules wrote.
constexpr std::string_view kRulesVersion = "legacy-migration-rules-1";
constexpr std::string_view kMigratorActor = "migrator";

// Length-prefixed fields: no two different row sets serialize alike.
class Fingerprint {
public:
    void add(std::string_view value) {
        Digits digits;
        text_ += decimal(static_cast<std::int64_t>(value.size()), digits);
        text_ += ':';
        text_ += value;
        text_ += ',';
    }
    void addNullable(const std::optional<std::string>& value) {
        if (value) {
            add(std::string_view(*value));
        } else {
            text_ += "-,";
        }
    }
    void addNumber(std::int64_t value) {
        Digits digits;
        add(decimal(value, digits));
    }

    void reserve(std::size_t bytes) { text_.reserve(bytes); }
    std::string hex() const { return sha256Hex(text_); }

private:
    using Digits = std::array<char, 24>;
    // `value` in decimal, written into `digits`.
    static std::string_view decimal(std::int64_t value, Digits& digits) {
        const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr;
        return {digits.data(), static_cast<std::size_t>(end - digits.data())};
    }

    std::string text_;
};

std::string organizationText(std::int64_t orgId) { return "organization " + std::to_string(orgId); }

// `describe` names the value for a warning; it is only called when there is one (a million users, few warnings).
template <typename Describe>
std::optional<std::string> salesforceId18(const std::optional<std::string>& value, Describe&& describe,
                                          std::vector<std::string>& warnings) {
    if (!value || value->empty()) return std::nullopt;
    auto id = mappings::toSalesforceId18(*value);
    if (!id) warnings.push_back(describe() + " is not a Salesforce id; it migrates as absent");
    return id;
}

std::optional<UnixSeconds> legacyTime(const std::optional<std::string>& value, const std::string& what,
                                      std::vector<std::string>& warnings) {
    if (!value) return std::nullopt;
    auto time = mappings::parseLegacyTime(*value);
    if (!time) warnings.push_back(what + " is not a time; it migrates as absent");
    return time;
}

}  // namespace

LegacyOrganizationTranslator::LegacyOrganizationTranslator(const LegacyTokenDecryptor& decryptor,
                                                           const TokenCipher& cipher, UnixSeconds migratedAt)
    : decryptor_(decryptor), cipher_(cipher), migratedAt_(migratedAt) {}

std::string LegacyOrganizationTranslator::refreshTokenAssociatedData(std::int64_t orgId) {
    return "org:" + std::to_string(orgId) + ":refresh";
}

std::string LegacyOrganizationTranslator::orphanLine(const LegacyOrphan& orphan) {
    std::string rows;
    if (orphan.connectivityRow) rows = "its connectivity row";
    if (orphan.users > 0) {
        if (!rows.empty()) rows += " and ";
        rows += std::to_string(orphan.users) + (orphan.users == 1 ? " user" : " users");
    }
    return "skipped " + organizationText(orphan.orgId) + ": orphan: no organizations row, " + rows + " not migrated";
}

std::string LegacyOrganizationTranslator::notFoundLine(std::int64_t orgId) {
    return "not found " + organizationText(orgId) + ": selected, but the legacy database has no row of it";
}

TranslatedOrganization LegacyOrganizationTranslator::translate(LegacyOrganization&& legacy) const {
    TranslatedOrganization result;
    const std::int64_t orgId = legacy.row.id;
    if (legacy.row.deleted) {
        result.skipped.push_back("skipped " + organizationText(orgId) + ": soft-deleted");
        return result;
    }

    MigratedOrganization migrated;
    Fingerprint fingerprint;
    fingerprint.add(kRulesVersion);
    fingerprint.addNumber(orgId);
    fingerprint.add(legacy.row.name);
    migrated.organization.legacyId = orgId;
    migrated.organization.name = std::move(legacy.row.name);

    std::optional<ConnectionStatus> connectionStatus;
    if (legacy.connectivity) {
        const auto& row = *legacy.connectivity;
        auto outcome = translateConnection(row, result.warnings);
        connectionStatus = outcome.connection.status;
        std::string detail = "legacy " + std::string(mappings::legacyStatusName(outcome.connection.status));
        if (outcome.skipReason) {
            result.skipped.push_back("skipped connection of " + organizationText(orgId) + ": " + *outcome.skipReason);
            detail += " (" + *outcome.skipReason + ")";
        }
        Event event;
        event.orgId = orgId;
        event.at = migratedAt_;
        event.type = EventType::Migrated;
        event.actor = std::string(kMigratorActor);
        event.detail = detail;
        migrated.events.push_back(std::move(event));
        migrated.connection = std::move(outcome.connection);

        fingerprint.add(outcome.fingerprintTag);
        fingerprint.add(row.serviceAccountLoginEnabled ? "1" : "0");
        fingerprint.add(row.authMethod);
        fingerprint.addNullable(row.environment);
        fingerprint.addNullable(row.serviceAccountUserId);
        fingerprint.addNullable(row.serviceAccountUsername);
        fingerprint.addNullable(row.salesforceOrgId);
        fingerprint.addNullable(row.instanceUrl);
        fingerprint.addNullable(row.refreshTokenEncrypted);
        fingerprint.addNumber(row.status);
        fingerprint.addNullable(row.statusChangedAt);
        fingerprint.addNullable(row.lastError);
    }

    // Users in id order whatever order they came in: the fingerprint, the report's lines and the store's rows
    // must not depend on it.
    std::vector<LegacyUserRow*> usersById;
    usersById.reserve(legacy.users.size());
    for (auto& user : legacy.users) usersById.push_back(&user);
    std::sort(usersById.begin(), usersById.end(), [](const auto* a, const auto* b) { return a->id < b->id; });

    // Of users whose emails differ only in letter case, the newest (highest id) is the real one.
    // Sorting by email key groups them (cheaper than a hash map: most organizations have a few users).
    std::vector<std::string> emailKeys;
    emailKeys.reserve(usersById.size());
    for (const auto* user : usersById) emailKeys.push_back(mappings::normalizeEmail(user->email));
    std::vector<std::size_t> byEmail(usersById.size());
    std::iota(byEmail.begin(), byEmail.end(), std::size_t{0});
    std::stable_sort(byEmail.begin(), byEmail.end(),
                     [&](std::size_t a, std::size_t b) { return emailKeys[a] < emailKeys[b]; });
    std::vector<std::int64_t> newestWithEmail(usersById.size());
    for (std::size_t first = 0; first < byEmail.size();) {
        std::size_t end = first + 1;
        while (end < byEmail.size() && emailKeys[byEmail[end]] == emailKeys[byEmail[first]]) ++end;
        // Stable, over users in id order: the run's last one is the newest.
        const std::int64_t newest = usersById[byEmail[end - 1]]->id;
        for (std::size_t i = first; i < end; ++i) newestWithEmail[byEmail[i]] = newest;
        first = end;
    }
    migrated.users.reserve(usersById.size());
    migrated.userEmailKeys.reserve(usersById.size());
    fingerprint.reserve(256 + 160 * usersById.size());  // about what an organization's rows take, to grow once
    for (std::size_t index = 0; index < usersById.size(); ++index) {
        auto& row = *usersById[index];
        const std::int64_t newest = newestWithEmail[index];
        if (newest != row.id) {
            result.skipped.push_back("skipped user " + std::to_string(row.id) + " of " + organizationText(orgId) +
                                     ": superseded by user " + std::to_string(newest));
            continue;
        }
        fingerprint.addNumber(row.id);
        fingerprint.add(row.email);
        fingerprint.addNullable(row.displayName);
        fingerprint.addNullable(row.salesforceUserId);
        fingerprint.add(row.active ? "1" : "0");
        fingerprint.add(row.syncState);
        fingerprint.addNullable(row.syncError);

        const auto what = [&] { return "user " + std::to_string(row.id) + " of " + organizationText(orgId); };
        User user;
        user.legacyId = row.id;
        user.orgId = orgId;
        user.email = std::move(row.email);
        user.displayName = std::move(row.displayName);
        user.salesforceUserId = salesforceId18(
            row.salesforceUserId, [&] { return "sf_user_id of " + what(); }, result.warnings);
        user.active = row.active;
        const auto suspended = mappings::syncSuspendedFromLegacyState(row.syncState);
        if (!suspended) result.warnings.push_back("sync_state of " + what() + " is unknown; it migrates as 'ok'");
        user.syncSuspended = suspended.value_or(false);
        if (user.syncSuspended) {
            user.suspendReason = std::move(row.syncError);
            // A lost connection is what suspends users in the legacy panel; a fresh login must lift these.
            user.suspendedByLoss = connectionStatus == ConnectionStatus::Disconnected;
        }
        migrated.users.push_back(std::move(user));
        migrated.userEmailKeys.push_back(std::move(emailKeys[index]));
    }
    migrated.legacyFingerprint = fingerprint.hex();
    result.migrated = std::move(migrated);
    return result;
}

LegacyOrganizationTranslator::ConnectionOutcome LegacyOrganizationTranslator::translateConnection(
    const LegacyConnectivityRow& row, std::vector<std::string>& warnings) const {
    const std::string what = "the connectivity row of " + organizationText(row.orgId);
    ConnectionOutcome outcome;
    Connection& connection = outcome.connection;
    connection.orgId = row.orgId;
    connection.serviceAccountLoginEnabled = row.serviceAccountLoginEnabled;
    if (mappings::authorizationMethodFromLegacyColumn(row.authMethod)) {
        connection.authorizationMethod = row.authMethod;
    } else {
        warnings.push_back("auth_method of " + what + " is unknown; it migrates as 'oauth'");
    }
    if (row.environment) {
        connection.environment = mappings::environmentFromLegacyLetter(*row.environment);
        if (!connection.environment) warnings.push_back("sf_environment of " + what + " is unknown");
    }
    connection.statusChangedAt = legacyTime(row.statusChangedAt, "status_changed_at of " + what, warnings);
    connection.status = ConnectionStatus::NotConnected;

    const auto legacyStatus = mappings::statusFromLegacyCode(row.status);
    if (!row.serviceAccountLoginEnabled) {
        outcome.fingerprintTag = "toggle-off";  // a leftover token is not carried over
        return outcome;
    }
    if (!legacyStatus) {
        outcome.skipReason = "unknown status " + std::to_string(row.status);
        outcome.fingerprintTag = "unknown-status";
        return outcome;
    }
    if (*legacyStatus == ConnectionStatus::NotConnected) {
        outcome.fingerprintTag = "not-connected";
        return outcome;
    }
    if (!row.refreshTokenEncrypted || row.refreshTokenEncrypted->empty()) {
        outcome.skipReason = "no token";
        outcome.fingerprintTag = "no-token";
        return outcome;
    }
    auto decrypted = decryptor_.decryptOrExplain(*row.refreshTokenEncrypted);
    if (const auto* failure = std::get_if<LegacyTokenFailure>(&decrypted)) {
        outcome.skipReason = std::string(describeLegacyTokenFailure(*failure));
        outcome.fingerprintTag = "token-failure:" + *outcome.skipReason;
        return outcome;
    }
    auto& token = std::get<std::string>(decrypted);
    connection.refreshToken = cipher_.seal(token, refreshTokenAssociatedData(row.orgId));
    OPENSSL_cleanse(token.data(), token.size());

    connection.status = *legacyStatus;
    connection.serviceAccountUserId = salesforceId18(
        row.serviceAccountUserId, [&] { return "sa_user_id of " + what; }, warnings);
    connection.serviceAccountUsername = row.serviceAccountUsername;
    connection.salesforceOrgId = salesforceId18(
        row.salesforceOrgId, [&] { return "sf_org_id of " + what; }, warnings);
    connection.instanceUrl = row.instanceUrl;
    if (connection.status == ConnectionStatus::Connected) {
        connection.connectedAt = connection.statusChangedAt;
        outcome.fingerprintTag = "established";
    } else {
        connection.lastError = row.lastError;
        outcome.fingerprintTag = "lost";
    }
    return outcome;
}

}  // namespace bridge::migrations
