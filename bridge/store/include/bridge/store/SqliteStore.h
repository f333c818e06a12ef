#pragma once

#include <Poco/Data/SessionPool.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "bridge/base/Config.h"
#include "bridge/store/SqlStore.h"

namespace bridge {

class SqliteCheckpointer;
class SqliteStatementCache;

// The embedded default store: one SQLite file in WAL mode, shared safely by several processes on one machine.
class SqliteStore : public SqlStore {
public:
    // `busyTimeout`: how long a writer waits for another one (of any process) before the store is unavailable.
    SqliteStore(const std::string& path, int poolSize, std::chrono::seconds busyTimeout = StoreConfig{}.timeout);
    ~SqliteStore() override;

    std::string_view sqlDialect() const override { return "sqlite"; }

protected:
    Poco::Data::Session openSession() override;
    // A connection of its own, kept with its prepared statements from one batch of the migrator to the next.
    // Opened inside inTransaction only, which holds writers_: one bulk write at a time.
    Poco::Data::Session openBulkSession() override;
    // Poco's pool takes the session back when the last handle goes; a file database has no dead connections.
    void releaseSession(Poco::Data::Session&, bool) override {}
    std::string_view beginWrite() const override { return "BEGIN IMMEDIATE"; }
    std::string_view lockRows() const override { return ""; }
    bool isDuplicateKey(const Poco::Exception& error) const override;
    // julianday('now') is the one clock of every process on the file's machine, to the millisecond.
    std::string_view databaseNowMs() const override {
        return "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
    }
    void withSchemaLock(Poco::Data::Session& session, const std::function<void()>& apply) override;
    std::unique_ptr<RowWriter> openRowWriter(Poco::Data::Session& session, std::string_view table,
                                             std::string_view columnNames, std::size_t columnCount) override;
    // SQLite admits one writer at a time and makes the others sleep in its busy handler with growing pauses;
    // under many concurrent writers most time goes to sleeping. Queueing this process's writers on a mutex
    // leaves the busy handler only the writers of other processes.
    std::mutex* writeSerializer() override { return &writers_; }

private:
    std::string path_;
    std::chrono::seconds busyTimeout_;
    Poco::Data::SessionPool pool_;
    std::mutex writers_;
    // From the first bulk write on; like the row writers that use them, touched under writers_ only.
    std::optional<Poco::Data::Session> bulkSession_;
    std::unique_ptr<SqliteStatementCache> bulkStatements_;  // of bulkSession_'s connection
    std::unique_ptr<SqliteCheckpointer> checkpointer_;      // watches bulkSession_'s connection
};

}  // namespace bridge
