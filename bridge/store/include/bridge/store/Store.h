#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/store/Model.h"

namespace bridge {

struct SchemaVersion {
    int version = 0;
    std::vector<std::string> statements;
};

// The organizations an operation may see: every one (support), or the listed legacy ids (org-admin).
struct OrganizationScope {
    bool all = false;
    std::vector<std::int64_t> legacyIds;

    bool allows(std::int64_t legacyId) const;
};

struct NewUser {
    std::int64_t orgId = 0;
    std::string email;
    std::optional<std::string> displayName;
    std::optional<std::string> salesforceUserId;  // 18 characters
    bool active = true;
};

struct UserChanges {
    std::optional<std::optional<std::string>> displayName;
    std::optional<bool> active;
    std::optional<std::optional<std::string>> salesforceUserId;  // 18 characters
};

// The store's sealed columns, as `bridge rekey` walks them.
enum class SealedColumn {
    RefreshToken,  // connections.refresh_token_ct, sealed for "org:<id>:refresh"
    AccessToken,   // access_tokens.token_ct, sealed for "org:<id>:access"
    CodeVerifier,  // oauth_attempts.verifier_ct, sealed for "oauth:<state hash>"
};

// Where a sealed value rests: the organization for the first two columns, the state hash for code verifiers.
// Rows are walked in this order (org id, or state hash).
struct SealedRowId {
    std::int64_t orgId = 0;
    std::string stateHash;
};

struct SealedRow {
    SealedRowId id;
    SealedToken token;
    // Access tokens only: the instance URL and expiry stored beside the token (part of what it is sealed for).
    std::string instanceUrl;
    UnixSeconds expiresAt = 0;
};

// A row to rewrite with `resealed` only if it still holds `read` (compare-and-set on the ciphertext).
struct Reseal {
    SealedRowId id;
    std::string readCiphertext;
    SealedToken resealed;
};

// An organization's latest access-token invalidation (Store::invalidateAccessToken). Generations are numbered
// store-wide, 1, 2, 3, ... in the order the invalidations committed.
struct AccessTokenInvalidation {
    std::int64_t orgId = 0;
    std::int64_t generation = 0;
};

// What a connection transition does to the organization's users, in the same transaction.
enum class UserEffect {
    None,
    SuspendActiveUsers,   // connection lost: every active, unsuspended user is suspended with the loss reason
    LiftLossSuspensions,  // fresh login or disconnect: exactly the users suspended by a loss become active again
};

// One step of the connection state machine, written atomically: the new row, its users, its events.
struct ConnectionTransition {
    Connection next;
    // The version the caller read; the write happens only if the row still has it (nullopt: no check).
    std::optional<std::int64_t> expectedVersion;
    UserEffect users = UserEffect::None;
    std::string suspendReason;  // with SuspendActiveUsers
    bool forgetAccessToken = false;
    std::vector<Event> events;
    // The webhook's outbox row for a transition to Lost or back to Connected, written with it or not at all; the
    // store fills in `users` (how many the user effect changed), the state (pending) and the first attempt's time
    // (createdAtMs).
    std::optional<Notification> notification;
};

// The result of a refresh at Salesforce, written in one transaction by the holder of the organization's lease.
struct RefreshOutcome {
    std::int64_t orgId = 0;
    std::string leaseOwner;
    // The refresh token that was presented, as stored; nothing is written if the connection no longer holds it
    // (an admin logged in again or disconnected while the refresh was under way).
    std::string presentedRefreshCiphertext;
    StoredAccessToken accessToken;
    std::optional<SealedToken> rotatedRefreshToken;  // stored before the access token is handed out
    UnixSeconds refreshedAt = 0;
    std::vector<Event> events;
};

// A refresh token Salesforce rotated, written on its own before anything else of the refresh (it exists nowhere
// else): by the holder of the organization's lease, only if the connection still holds the presented token.
struct RotatedRefreshToken {
    std::int64_t orgId = 0;
    std::string leaseOwner;
    std::string presentedRefreshCiphertext;
    SealedToken rotated;
};

// Everything the migrator lands for one legacy organization, in one transaction.
struct MigratedOrganization {
    Organization organization;
    std::vector<User> users;
    // mappings::normalizeEmail of each user's email, in the order of `users`, where the caller has them already
    // (the translator does, to find case twins); empty: the store works them out.
    std::vector<std::string> userEmailKeys;
    std::optional<Connection> connection;
    // SHA-256 of the legacy rows this was built from: equal on a rerun means already current, nothing written.
    std::string legacyFingerprint;
    std::vector<Event> events;
};

// Conflict: the legacy id of the organization or of one of its users is held by something the migrator did not
// create. A connection that the server changed since the migrator wrote it (a panel, the broker) is never
// overwritten.
enum class MigrationWrite { Written, AlreadyCurrent, Conflict };

// The shared store behind both panels, the broker and the migrator. One interface, two backends
// (SqliteStore, MySqlStore) that run the same conformance suite. Every method is one transaction and throws
// bridge::Error(StoreUnavailable) when the database cannot be reached.
class Store {
public:
    virtual ~Store() = default;

    // --- schema (migrations/ owns the versions; the store only applies them) ---
    // "sqlite" or "mysql": which statements of the schema catalog this store runs.
    virtual std::string_view sqlDialect() const = 0;
    virtual int schemaVersion() = 0;
    // Applies, in order and under a lock that other processes respect, every version above the current one.
    // Returns the version the store is at afterwards.
    virtual int applySchema(const std::vector<SchemaVersion>& versions) = 0;
    virtual bool ping() = 0;

    // --- organizations / profiles ---
    virtual std::vector<Organization> listOrganizations(const OrganizationScope& scope, std::int64_t afterLegacyId,
                                                        int limit) = 0;
    virtual std::optional<Organization> findOrganization(std::int64_t legacyId) = 0;
    virtual std::optional<Organization> findOrganizationByPublicId(const std::string& publicId) = 0;
    // Allocates the legacy id from ids.firstNewLegacyId upward.
    virtual Organization createOrganization(const std::string& name, std::int64_t firstNewLegacyId) = 0;

    // --- users ---
    virtual std::int64_t countUsers(std::int64_t orgId) = 0;
    virtual std::vector<User> listUsersByOffset(std::int64_t orgId, std::int64_t offset, int limit) = 0;
    virtual std::vector<User> listUsersAfter(std::int64_t orgId, std::int64_t afterLegacyId, int limit) = 0;
    virtual std::optional<User> findUser(std::int64_t legacyId) = 0;
    virtual std::optional<User> findUserByPublicId(const std::string& publicId) = 0;
    // Throws Error(EmailTaken) when the organization already has the email, letter case ignored.
    virtual User createUser(const NewUser& user, std::int64_t firstNewLegacyId) = 0;
    virtual User updateUser(std::int64_t legacyId, const UserChanges& changes) = 0;
    // True when an active user of the organization has this Salesforce user id (18 characters) or one of these
    // normalized emails: such an account is an end user and may not serve as the service account.
    virtual bool hasActiveEndUser(std::int64_t orgId, const std::string& salesforceUserId18,
                                  const std::vector<std::string>& emailKeys) = 0;

    // --- connection state machine ---
    virtual Connection loadConnection(std::int64_t orgId) = 0;
    // False when expectedVersion no longer matches (someone else wrote first); nothing is written then.
    virtual bool applyTransition(const ConnectionTransition& transition) = 0;
    virtual void appendEvent(const Event& event) = 0;
    virtual std::vector<Event> listEvents(std::int64_t orgId, std::int64_t beforeEventId, int limit) = 0;

    // --- OAuth login attempts ---
    virtual void insertOAuthAttempt(const OAuthAttempt& attempt) = 0;
    // Marks the attempt used and returns it, only if it exists, is unused and has not expired. Single use: of
    // any number of concurrent calls with one hash, at most one gets a value.
    virtual std::optional<OAuthAttempt> consumeOAuthAttempt(const std::string& stateHash, UnixSeconds now) = 0;
    // The attempt a state names, used or expired or not: a refused callback still goes back to the panel that
    // started it and leaves an event there.
    virtual std::optional<OAuthAttempt> findOAuthAttempt(const std::string& stateHash) = 0;

    // --- broker ---
    virtual std::optional<StoredAccessToken> loadAccessToken(std::int64_t orgId) = 0;
    // The sync engine found the access token bad: forgets it and records the invalidation under the next
    // store-wide generation, in one transaction. Returns that generation. Invalidations commit in the order of
    // their generations, so a reader that sees generation g also sees every one before it.
    virtual std::int64_t invalidateAccessToken(std::int64_t orgId) = 0;
    // The generation of the latest invalidation of any organization; 0 before the first.
    virtual std::int64_t latestAccessTokenInvalidation() = 0;
    // Every organization whose latest invalidation is above `generation`, by generation.
    virtual std::vector<AccessTokenInvalidation> listAccessTokenInvalidationsAfter(std::int64_t generation) = 0;
    // Each running instance follows the invalidations and records here the generation it has applied, with a lease
    // of `lease` on the database's clock; invalidations wait for the live ones to catch up (countInstancesBehind).
    virtual void recordAppliedInvalidation(const std::string& instanceId, std::int64_t generation,
                                           std::chrono::milliseconds lease) = 0;
    // The instances whose lease is unexpired and whose applied generation is below `generation`.
    virtual int countInstancesBehind(std::int64_t generation) = 0;
    // The instance stopped: nobody waits for it any more.
    virtual void forgetInstance(const std::string& instanceId) = 0;
    // Refresh leases run on the database's clock, never a host's: instances whose clocks disagree still agree on
    // when a lease ends. Durations in milliseconds: leases are shorter than a second in tests.
    // Takes the organization's refresh lease for `duration` if it is free, expired or already the caller's.
    // True = the caller is the leader.
    virtual bool tryAcquireRefreshLease(std::int64_t orgId, const std::string& owner,
                                        std::chrono::milliseconds duration) = 0;
    // Extends the caller's lease to `duration` from now. True while it is still held; false once it was lost
    // (expired, released or taken by another owner), and then nothing is written.
    virtual bool renewRefreshLease(std::int64_t orgId, const std::string& owner,
                                   std::chrono::milliseconds duration) = 0;
    virtual void releaseRefreshLease(std::int64_t orgId, const std::string& owner) = 0;
    // Writes only the rotated refresh token, if the lease is still the caller's (no one took it since, expired or
    // not) and the connection is connected with the presented token; false (nothing written) otherwise.
    virtual bool storeRotatedRefreshToken(const RotatedRefreshToken& rotation) = 0;
    // Writes the refresh result if the lease is still the caller's (as above); false (nothing written) otherwise.
    virtual bool commitRefresh(const RefreshOutcome& outcome) = 0;
    // Connections whose refresh token was last used before the cutoff (keep-alive candidates), the ones keep-alive
    // tried least recently first (never tried before any), so that connections whose refresh keeps failing cannot
    // hold the first places of every round.
    virtual std::vector<std::int64_t> listIdleConnections(UnixSeconds lastRefreshBefore, int limit) = 0;
    // Keep-alive is about to refresh the connection: it goes to the back of listIdleConnections' queue, whatever the
    // refresh's outcome (recorded before the attempt, so that an attempt cut short by a crash counts too).
    virtual void recordKeepAliveAttempt(std::int64_t orgId, UnixSeconds at) = 0;

    // --- webhook notifications (the outbox; rows are written by applyTransition) ---
    // For each organization its oldest pending notification, when that one is due at `nowMs`: later ones of the
    // organization wait behind it (delivery is ordered per organization). By sequence, at most `limit`.
    virtual std::vector<Notification> listDueNotifications(UnixMillis nowMs, int limit) = 0;
    // Records an attempt on a pending notification if the delivery lease still names the caller (expired or
    // not: no one took it since); false (nothing written) otherwise.
    virtual bool recordDeliveryAttempt(const DeliveryAttempt& attempt) = 0;
    // The organization's notifications, newest first, those with a sequence below `beforeSequence`.
    virtual std::vector<Notification> listNotifications(std::int64_t orgId, std::int64_t beforeSequence, int limit) = 0;
    // The one delivery lease of the whole store, on the database's clock like the refresh leases: taken if free,
    // expired or already the caller's; renewed only while still held; released by its holder.
    virtual bool tryAcquireDeliveryLease(const std::string& owner, std::chrono::milliseconds duration) = 0;
    virtual bool renewDeliveryLease(const std::string& owner, std::chrono::milliseconds duration) = 0;
    virtual void releaseDeliveryLease(const std::string& owner) = 0;

    // --- rekey ---
    // Up to `limit` rows of `column` whose value is sealed under a key other than `activeKeyId`, after `after` in
    // walking order (a default SealedRowId: from the start).
    virtual std::vector<SealedRow> listSealedNotUnder(SealedColumn column, const std::string& activeKeyId,
                                                      const SealedRowId& after, int limit) = 0;
    // Rewrites the batch in one transaction, each row only if it still holds the ciphertext that was read (a
    // refresh or a new login that wrote meanwhile wins). Returns how many rows were rewritten.
    virtual int resealIfUnchanged(SealedColumn column, const std::vector<Reseal>& batch) = 0;
    // How many rows of `column` are sealed under a key other than `activeKeyId` (the rekey's total).
    virtual std::int64_t countSealedNotUnder(SealedColumn column, const std::string& activeKeyId) = 0;

    // --- migrator ---
    virtual MigrationWrite writeMigratedOrganization(const MigratedOrganization& migrated) = 0;
    // The same for a batch, in one transaction (the migrator's speed): every organization of the batch lands, or,
    // when the call throws, none does. Outcomes are in the batch's order.
    virtual std::vector<MigrationWrite> writeMigratedOrganizations(const std::vector<MigratedOrganization>& batch) = 0;
};

}  // namespace bridge
