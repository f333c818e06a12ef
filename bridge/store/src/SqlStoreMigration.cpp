// SqlStore: the migrator's writes, a whole batch of organizations in one transaction.
#include <Poco/Nullable.h>
#include <Poco/Tuple.h>

#include <span>
#include <unordered_map>

#include "ConnectionColumns.h"
#include "EventColumns.h"
#include "SqlRows.h"
#include "SqlStoreSessions.h"
#include "bridge/store/SqlStore.h"
#include "mappings/Emails.h"

using namespace Poco::Data::Keywords;

namespace bridge {

using namespace sql;  // the store's private helpers (src/*.h)

namespace {

// What the server decided about a user's suspension, kept over a rerun where it owns the connection.
struct KeptSuspension {
    bool suspended = false;
    std::optional<std::string> reason;
    bool byLoss = false;
};

constexpr std::string_view kMigratedUserColumns =
    "id, org_id, email, email_key, display_name, sf_user_id, active, sync_suspended, suspend_reason, "
    "suspended_by_loss, origin";
constexpr std::size_t kMigratedUserColumnCount = 11;

// The users rows of the organizations a batch writes, one call of `row` each with the values of
// kMigratedUserColumns, in order; the texts stay valid as long as the batch and `kept` do.
template <typename Row>
void forEachMigratedUserRow(std::span<const MigratedOrganization> batch, const std::vector<MigrationWrite>& outcomes,
                            const std::unordered_map<Int64, KeptSuspension>& kept, std::vector<std::string>& emailKeys,
                            Row&& row) {
    std::size_t keysToWorkOut = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (outcomes[i] == MigrationWrite::Written && batch[i].userEmailKeys.size() != batch[i].users.size()) {
            keysToWorkOut += batch[i].users.size();
        }
    }
    emailKeys.clear();
    emailKeys.reserve(keysToWorkOut);  // no reallocation: the rows' email keys are views of these strings
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (outcomes[i] != MigrationWrite::Written) continue;
        const MigratedOrganization& migrated = batch[i];
        const Int64 orgId = migrated.organization.legacyId;
        const bool keysGiven = migrated.userEmailKeys.size() == migrated.users.size();
        for (std::size_t j = 0; j < migrated.users.size(); ++j) {
            const User& user = migrated.users[j];
            if (!keysGiven) emailKeys.push_back(mappings::normalizeEmail(user.email));
            const std::string_view emailKey = keysGiven ? migrated.userEmailKeys[j] : emailKeys.back();
            const auto found = kept.find(user.legacyId);
            const bool useKept = found != kept.end();
            row(Int64{user.legacyId}, orgId, std::string_view(user.email), emailKey, user.displayName,
                user.salesforceUserId, Int64{user.active ? 1 : 0},
                Int64{(useKept ? found->second.suspended : user.syncSuspended) ? 1 : 0},
                useKept ? found->second.reason : user.suspendReason,
                Int64{(useKept ? found->second.byLoss : user.suspendedByLoss) ? 1 : 0}, kOriginMigration);
        }
    }
}

// The users of the organizations a batch writes. Through the backend's RowWriter straight from the batch, where
// it has one (a million users copied into columns first took a fifth of the SQLite migration's time); otherwise
// column by column through insertRows.
void insertMigratedUsers(Session& session, const OpenRowWriter& openRowWriter,
                         std::span<const MigratedOrganization> batch, const std::vector<MigrationWrite>& outcomes,
                         const std::unordered_map<Int64, KeptSuspension>& kept) {
    std::vector<std::string> emailKeys;
    if (auto writer = openRowWriter("users", kMigratedUserColumns, kMigratedUserColumnCount)) {
        forEachMigratedUserRow(batch, outcomes, kept, emailKeys, [&](const auto&... values) {
            (addValue(*writer, values), ...);
            writer->endRow();
        });
        writer->finish();
        return;
    }
    std::vector<Int64> ids, orgIds, active, suspended, suspendedByLoss;
    std::vector<std::string> emails, keys, origins;
    std::vector<Nullable<std::string>> displayNames, salesforceUserIds, suspendReasons;
    forEachMigratedUserRow(batch, outcomes, kept, emailKeys,
                           [&](Int64 id, Int64 orgId, std::string_view email, std::string_view emailKey,
                               const std::optional<std::string>& displayName,
                               const std::optional<std::string>& salesforceUserId, Int64 isActive, Int64 isSuspended,
                               const std::optional<std::string>& suspendReason, Int64 byLoss, std::string_view origin) {
                               ids.push_back(id);
                               orgIds.push_back(orgId);
                               emails.emplace_back(email);
                               keys.emplace_back(emailKey);
                               displayNames.push_back(toNullable(displayName));
                               salesforceUserIds.push_back(toNullable(salesforceUserId));
                               active.push_back(isActive);
                               suspended.push_back(isSuspended);
                               suspendReasons.push_back(toNullable(suspendReason));
                               suspendedByLoss.push_back(byLoss);
                               origins.emplace_back(origin);
                           });
    insertRows(session, openRowWriter, "users", kMigratedUserColumns, ids, orgIds, emails, keys, displayNames,
               salesforceUserIds, active, suspended, suspendReasons, suspendedByLoss, origins);
}

std::unordered_map<Int64, KeptSuspension> serverSuspensions(Session& session, const std::vector<Int64>& orgIds) {
    using Suspension = Poco::Tuple<Int64, Int64, Nullable<std::string>, Int64>;
    std::vector<Suspension> stored;
    session << "SELECT id, sync_suspended, suspend_reason, suspended_by_loss FROM users WHERE org_id IN (" +
                   idList(orgIds) + ")",
        into(stored), now;
    std::unordered_map<Int64, KeptSuspension> kept;
    for (const auto& suspension : stored) {
        kept[suspension.get<0>()] = {suspension.get<1>() != 0, toOptional(suspension.get<2>()),
                                     suspension.get<3>() != 0};
    }
    return kept;
}

// A user id held by something else than the migrator or by another organization, or an email held in the
// organization by a user created through the new panel, is a conflict: the organization is not written. A user id
// that the migrator wrote into another organization of this batch is free if that organization is rewritten (its
// migrated users are replaced first): the user moved between them in the legacy database.
void markUserConflicts(Session& session, std::span<const MigratedOrganization> batch, const std::vector<Int64>& orgIds,
                       std::vector<MigrationWrite>& outcomes) {
    std::unordered_map<Int64, std::size_t> positionOfOrganization;
    for (std::size_t i = 0; i < batch.size(); ++i) positionOfOrganization[orgIds[i]] = i;
    std::unordered_map<Int64, std::size_t> positionOfUser;
    std::vector<Int64> userIds, candidateOrgIds;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (outcomes[i] != MigrationWrite::Written) continue;
        candidateOrgIds.push_back(orgIds[i]);
        for (const auto& user : batch[i].users) {
            userIds.push_back(user.legacyId);
            positionOfUser[user.legacyId] = i;
        }
    }
    if (userIds.empty()) return;
    using HeldUser = Poco::Tuple<Int64, Int64, std::string>;
    std::vector<HeldUser> heldUsers;
    session << "SELECT id, org_id, origin FROM users WHERE id IN (" + idList(userIds) + ")", into(heldUsers), now;
    // (organization, organization of this batch that must be rewritten for it to be written)
    std::vector<std::pair<std::size_t, std::size_t>> needsRewriteOf;
    for (const auto& held : heldUsers) {
        const std::size_t i = positionOfUser.at(held.get<0>());
        if (held.get<1>() == orgIds[i] && held.get<2>() == kOriginMigration) continue;
        const auto holder = positionOfOrganization.find(held.get<1>());
        if (held.get<2>() == kOriginMigration && holder != positionOfOrganization.end()) {
            needsRewriteOf.emplace_back(i, holder->second);
        } else {
            outcomes[i] = MigrationWrite::Conflict;
        }
    }

    using HeldEmail = Poco::Tuple<Int64, std::string>;
    std::vector<HeldEmail> panelEmails;
    session << "SELECT org_id, email_key FROM users WHERE origin <> ? AND org_id IN (" + idList(candidateOrgIds) + ")",
        bind(std::string(kOriginMigration)), into(panelEmails), now;
    for (const auto& held : panelEmails) {
        const std::size_t i = positionOfOrganization.at(held.get<0>());
        for (const auto& user : batch[i].users) {
            if (mappings::normalizeEmail(user.email) == held.get<1>()) outcomes[i] = MigrationWrite::Conflict;
        }
    }

    // An organization not rewritten keeps its users, so one waiting for it is a conflict too (and so on).
    for (bool changed = true; changed;) {
        changed = false;
        for (const auto& [waiting, holder] : needsRewriteOf) {
            if (outcomes[waiting] == MigrationWrite::Written && outcomes[holder] != MigrationWrite::Written) {
                outcomes[waiting] = MigrationWrite::Conflict;
                changed = true;
            }
        }
    }
}

// A unique key refused a migrated row although the store was asked who holds its ids and emails first: an email
// that the database compares as equal to another and the migrator does not (trailing spaces on MariaDB), or a
// panel write in between on another connection. The organization fails alone, not as an outage of the store.
Error refusedAfterAsking() {
    return Error(ErrorCode::Internal, "the store refused one of its users as a duplicate of a row it holds");
}

}  // namespace

MigrationWrite SqlStore::writeMigratedOrganization(const MigratedOrganization& migrated) {
    try {
        return inTransaction(
            [&](Session& session) { return writeMigrated(session, std::span(&migrated, 1), UserCheck::Ask).front(); });
    } catch (const DuplicateKey&) {
        throw refusedAfterAsking();
    }
}

std::vector<MigrationWrite> SqlStore::writeMigratedOrganizations(const std::vector<MigratedOrganization>& batch) {
    // A user id or email held by data the migrator did not write is rare, and asking about every user of a batch
    // costs more than inserting them: the first attempt lets the unique keys say no, which rolls it back.
    const auto write = [&](UserCheck userCheck) {
        return inTransaction([&](Session& session) { return writeMigrated(session, batch, userCheck); },
                             SessionUse::BulkWrite);
    };
    try {
        return write(UserCheck::TrustKeys);
    } catch (const DuplicateKey&) {
        // A key said no: the batch is written again, asking first this time.
    }
    try {
        return write(UserCheck::Ask);
    } catch (const DuplicateKey&) {
        throw refusedAfterAsking();
    }
}

std::vector<MigrationWrite> SqlStore::writeMigrated(Session& session, std::span<const MigratedOrganization> batch,
                                                    UserCheck userCheck) {
    std::vector<MigrationWrite> outcomes(batch.size(), MigrationWrite::Written);
    if (batch.empty()) return outcomes;

    std::unordered_map<Int64, std::size_t> positionOfOrganization;
    std::vector<Int64> orgIds;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        orgIds.push_back(batch[i].organization.legacyId);
        positionOfOrganization[orgIds.back()] = i;
    }

    // Who holds the batch's organization ids, and from which legacy rows the migrator wrote them.
    using HeldOrganization = Poco::Tuple<Int64, std::string, Nullable<std::string>>;
    std::vector<HeldOrganization> heldOrganizations;
    session << "SELECT id, origin, legacy_fingerprint FROM organizations WHERE id IN (" + idList(orgIds) + ")" +
                   std::string(lockRows()),
        into(heldOrganizations), now;
    std::vector<bool> exists(batch.size(), false);
    for (const auto& held : heldOrganizations) {
        const std::size_t i = positionOfOrganization.at(held.get<0>());
        exists[i] = true;
        if (held.get<1>() != kOriginMigration) {
            outcomes[i] = MigrationWrite::Conflict;
        } else if (!held.get<2>().isNull() && held.get<2>().value() == batch[i].legacyFingerprint) {
            outcomes[i] = MigrationWrite::AlreadyCurrent;
        }
    }

    if (userCheck == UserCheck::Ask) markUserConflicts(session, batch, orgIds, outcomes);

    std::vector<Int64> newIds, newCreatedAt, changedIds, writtenIds, connectionOrgIds;
    std::vector<std::string> newNames, newFingerprints, changedNames, changedFingerprints;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (outcomes[i] != MigrationWrite::Written) continue;
        const auto& migrated = batch[i];
        writtenIds.push_back(orgIds[i]);
        if (exists[i]) {
            changedIds.push_back(orgIds[i]);
            changedNames.push_back(migrated.organization.name);
            changedFingerprints.push_back(migrated.legacyFingerprint);
        } else {
            newIds.push_back(orgIds[i]);
            newNames.push_back(migrated.organization.name);
            newFingerprints.push_back(migrated.legacyFingerprint);
            newCreatedAt.push_back(nowSeconds());
        }
        if (migrated.connection) connectionOrgIds.push_back(orgIds[i]);
    }
    if (writtenIds.empty()) return outcomes;

    std::vector<std::string> newOrigins(newIds.size(), std::string(kOriginMigration));
    insertRows(session, rowWriterOpener(session), "organizations", "id, name, origin, legacy_fingerprint, created_at",
               newIds, newNames, newOrigins, newFingerprints, newCreatedAt);
    if (!changedIds.empty()) {
        session << "UPDATE organizations SET name = ?, legacy_fingerprint = ? WHERE id = ?", use(changedNames),
            use(changedFingerprints), use(changedIds), now;
    }

    // A connection and migrated users hang off an organization row: trusting the keys, only the organizations the
    // store held already are asked about. Were such a row there all the same, its key refuses the insert below and
    // the batch is written again, asking about every organization.
    const std::vector<Int64>& mayHoldRows = userCheck == UserCheck::TrustKeys ? changedIds : writtenIds;

    // The connection rows first, in the order a state transition locks them (connection, then users), so that a
    // migration and a panel or broker write on one organization cannot deadlock.
    using Writer = Poco::Tuple<Int64, std::string, Int64>;
    std::vector<Writer> writers;
    if (!mayHoldRows.empty()) {
        session << "SELECT org_id, written_by, version FROM connections WHERE org_id IN (" + idList(mayHoldRows) + ")" +
                       std::string(lockRows()),
            into(writers), now;
    }
    std::unordered_map<Int64, const Writer*> writerOf;
    std::vector<Int64> serverOwned;
    for (const auto& writer : writers) {
        writerOf[writer.get<0>()] = &writer;
        if (writer.get<1>() != kWrittenByMigration) serverOwned.push_back(writer.get<0>());
    }
    // Where the server owns the connection (a login, a loss, a disconnect since the last run), it also decided the
    // users' suspensions: a rerun keeps them instead of restoring the legacy ones.
    const auto kept =
        serverOwned.empty() ? std::unordered_map<Int64, KeptSuspension>{} : serverSuspensions(session, serverOwned);

    // The users of a rerun replace the ones an earlier run wrote; users created through the new panel stay.
    if (!mayHoldRows.empty()) {
        session << "DELETE FROM users WHERE origin = ? AND org_id IN (" + idList(mayHoldRows) + ")",
            bind(std::string(kOriginMigration)), now;
    }
    insertMigratedUsers(session, rowWriterOpener(session), batch, outcomes, kept);

    if (connectionOrgIds.empty()) return outcomes;
    ConnectionColumns inserted, updated;
    EventColumns events;
    for (const auto orgId : connectionOrgIds) {
        const auto& migrated = batch[positionOfOrganization.at(orgId)];
        const auto found = writerOf.find(orgId);
        // A row the server wrote (a panel, a login, the broker) is newer than the legacy one: leave it.
        if (found != writerOf.end() && found->second->get<1>() != kWrittenByMigration) continue;
        // Bumped like by every write, so that a panel holding the version it read notices the rerun.
        if (found == writerOf.end()) {
            inserted.add(*migrated.connection, orgId, 1, kWrittenByMigration);
        } else {
            updated.add(*migrated.connection, orgId, found->second->get<2>() + 1, kWrittenByMigration);
        }
        for (const auto& event : migrated.events) events.add(event);
    }
    insertConnections(session, inserted, rowWriterOpener(session));
    updateConnections(session, updated);
    // The access token minted with a rewritten connection's old refresh token goes with it. An inserted connection
    // had no row before, and an access token is only ever stored beside one (commitRefresh updates the row first).
    if (!updated.empty()) {
        session << "DELETE FROM access_tokens WHERE org_id IN (" + idList(updated.orgIds) + ")", now;
    }
    insertEvents(session, std::move(events), rowWriterOpener(session));
    return outcomes;
}

}  // namespace bridge
