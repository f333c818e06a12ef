#pragma once

#include <Poco/Data/Session.h>
#include <Poco/Exception.h>

#include <functional>
#include <memory>
#include <mutex>
#include <span>

#include "bridge/store/RowWriter.h"
#include "bridge/store/Store.h"

namespace bridge {

// The store written once in portable SQL over Poco::Data. A backend (SqliteStore, MySqlStore) supplies sessions,
// how a write transaction starts, how the schema is locked, and which database errors mean what.
class SqlStore : public Store {
public:
    int schemaVersion() override;
    int applySchema(const std::vector<SchemaVersion>& versions) override;
    bool ping() override;

    std::vector<Organization> listOrganizations(const OrganizationScope& scope, std::int64_t afterLegacyId,
                                                int limit) override;
    std::optional<Organization> findOrganization(std::int64_t legacyId) override;
    std::optional<Organization> findOrganizationByPublicId(const std::string& publicId) override;
    Organization createOrganization(const std::string& name, std::int64_t firstNewLegacyId) override;

    std::int64_t countUsers(std::int64_t orgId) override;
    std::vector<User> listUsersByOffset(std::int64_t orgId, std::int64_t offset, int limit) override;
    std::vector<User> listUsersAfter(std::int64_t orgId, std::int64_t afterLegacyId, int limit) override;
    std::optional<User> findUser(std::int64_t legacyId) override;
    std::optional<User> findUserByPublicId(const std::string& publicId) override;
    User createUser(const NewUser& user, std::int64_t firstNewLegacyId) override;
    User updateUser(std::int64_t legacyId, const UserChanges& changes) override;
    bool hasActiveEndUser(std::int64_t orgId, const std::string& salesforceUserId18,
                          const std::vector<std::string>& emailKeys) override;

    Connection loadConnection(std::int64_t orgId) override;
    bool applyTransition(const ConnectionTransition& transition) override;
    void appendEvent(const Event& event) override;
    std::vector<Event> listEvents(std::int64_t orgId, std::int64_t beforeEventId, int limit) override;

    void insertOAuthAttempt(const OAuthAttempt& attempt) override;
    std::optional<OAuthAttempt> consumeOAuthAttempt(const std::string& stateHash, UnixSeconds now) override;
    std::optional<OAuthAttempt> findOAuthAttempt(const std::string& stateHash) override;

    std::optional<StoredAccessToken> loadAccessToken(std::int64_t orgId) override;
    std::int64_t invalidateAccessToken(std::int64_t orgId) override;
    std::int64_t latestAccessTokenInvalidation() override;
    std::vector<AccessTokenInvalidation> listAccessTokenInvalidationsAfter(std::int64_t generation) override;
    void recordAppliedInvalidation(const std::string& instanceId, std::int64_t generation,
                                   std::chrono::milliseconds lease) override;
    int countInstancesBehind(std::int64_t generation) override;
    void forgetInstance(const std::string& instanceId) override;
    bool tryAcquireRefreshLease(std::int64_t orgId, const std::string& owner,
                                std::chrono::milliseconds duration) override;
    bool renewRefreshLease(std::int64_t orgId, const std::string& owner, std::chrono::milliseconds duration) override;
    void releaseRefreshLease(std::int64_t orgId, const std::string& owner) override;
    bool storeRotatedRefreshToken(const RotatedRefreshToken& rotation) override;
    bool commitRefresh(const RefreshOutcome& outcome) override;
    std::vector<std::int64_t> listIdleConnections(UnixSeconds lastRefreshBefore, int limit) override;
    void recordKeepAliveAttempt(std::int64_t orgId, UnixSeconds at) override;

    std::vector<Notification> listDueNotifications(UnixMillis nowMs, int limit) override;
    bool recordDeliveryAttempt(const DeliveryAttempt& attempt) override;
    std::vector<Notification> listNotifications(std::int64_t orgId, std::int64_t beforeSequence, int limit) override;
    bool tryAcquireDeliveryLease(const std::string& owner, std::chrono::milliseconds duration) override;
    bool renewDeliveryLease(const std::string& owner, std::chrono::milliseconds duration) override;
    void releaseDeliveryLease(const std::string& owner) override;

    std::vector<SealedRow> listSealedNotUnder(SealedColumn column, const std::string& activeKeyId,
                                              const SealedRowId& after, int limit) override;
    int resealIfUnchanged(SealedColumn column, const std::vector<Reseal>& batch) override;
    std::int64_t countSealedNotUnder(SealedColumn column, const std::string& activeKeyId) override;

    MigrationWrite writeMigratedOrganization(const MigratedOrganization& migrated) override;
    std::vector<MigrationWrite> writeMigratedOrganizations(const std::vector<MigratedOrganization>& batch) override;

protected:
    virtual Poco::Data::Session openSession() = 0;
    // The session of a transaction that writes a whole batch of migrated organizations; an ordinary one unless the
    // backend keeps one for the purpose. Only ever opened inside inTransaction.
    virtual Poco::Data::Session openBulkSession() { return openSession(); }
    // Takes a session back after use; `broken` when a database error came out of it (the connection may be dead).
    virtual void releaseSession(Poco::Data::Session& session, bool broken) = 0;
    // The statement that starts a transaction which will write ("BEGIN IMMEDIATE" on SQLite, so that two writers
    // queue on the busy timeout instead of deadlocking on a lock upgrade).
    virtual std::string_view beginWrite() const = 0;
    // " FOR UPDATE" where the database locks selected rows, empty where the write transaction already locks all.
    virtual std::string_view lockRows() const = 0;
    virtual bool isDuplicateKey(const Poco::Exception& error) const = 0;
    // An SQL expression for the database's clock in milliseconds since the epoch: what refresh leases run on.
    virtual std::string_view databaseNowMs() const = 0;
    // A mutex that write transactions of this process take in turn, or nullptr where the database queues
    // writers well by itself.
    virtual std::mutex* writeSerializer() { return nullptr; }
    // Runs `apply` while holding a lock that keeps other processes from upgrading the schema at the same time.
    virtual void withSchemaLock(Poco::Data::Session& session, const std::function<void()>& apply) = 0;
    // The backend's own way to insert many rows into `table` in the session's transaction; nullptr: Poco
    // statements of many rows each, which suit a database server (one round trip per statement).
    virtual std::unique_ptr<RowWriter> openRowWriter(Poco::Data::Session& session, std::string_view table,
                                                     std::string_view columnNames, std::size_t columnCount);

    enum class SessionUse { Ordinary, BulkWrite };
    template <typename Work>
    auto inTransaction(Work&& work, SessionUse use = SessionUse::Ordinary);
    template <typename Work>
    auto withSession(Work&& work, SessionUse use = SessionUse::Ordinary);

private:
    // openRowWriter bound to the session, as the insert helpers take it.
    OpenRowWriter rowWriterOpener(Poco::Data::Session& session);
    Connection readConnection(Poco::Data::Session& session, std::int64_t orgId, bool forUpdate);
    // In a write transaction: whether the organization's lease row names `owner` (locked until the transaction ends).
    bool leaseStillOwnedBy(Poco::Data::Session& session, std::int64_t orgId, const std::string& owner);
    // Whether writeMigrated asks the store who holds the batch's user ids and emails (Ask), or lets the unique keys
    // refuse a held one (TrustKeys: a DuplicateKey then, and the caller writes the batch again with Ask). Trusting
    // the keys, it also asks about connections and migrated users only of the organizations the store holds.
    enum class UserCheck { Ask, TrustKeys };
    // The migrator's organizations, in the caller's transaction: a few queries decide every one's outcome, then
    // each table gets its rows (through the backend's RowWriter where it has one). Outcomes are in the batch's
    // order.
    std::vector<MigrationWrite> writeMigrated(Poco::Data::Session& session, std::span<const MigratedOrganization> batch,
                                              UserCheck userCheck);
    std::optional<User> readUser(Poco::Data::Session& session, std::int64_t legacyId);
};

}  // namespace bridge
