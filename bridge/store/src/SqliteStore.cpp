#include "bridge/store/SqliteStore.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/SQLite/Utility.h>
#include <sqlite3.h>

#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"
#include "bridge/store/SqliteCheckpointer.h"
#include "bridge/store/SqliteRowWriter.h"
#include "bridge/store/SqliteStatementCache.h"

using namespace Poco::Data::Keywords;

namespace bridge {

namespace {

// A connection is only ever used by the thread that leased it (SqlStore::withSession), so SQLite's per-call
// connection mutex and its memory statistics are locks for nothing. The setting only takes before SQLite starts,
// hence at static initialisation, before main and before any connection of any program linking the store. (Had
// SQLite started anyway, the calls fail and it stays serialized: as safe, slower.)
const bool kSqliteMultiThreaded =
    sqlite3_config(SQLITE_CONFIG_MULTITHREAD) == SQLITE_OK && sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;

void registerConnectorOnce() {
    static const bool registered = [] {
        if (!kSqliteMultiThreaded) logger("store")->debug("SQLite had started early: its connections stay serialized");
        Poco::Data::SQLite::Connector::registerConnector();
        return true;
    }();
    (void)registered;
}

const std::string& registeredConnector() {
    registerConnectorOnce();
    static const std::string name = "SQLite";
    return name;
}

// Settings of a connection, not of the file: every connection needs them. NORMAL is safe with WAL (a power cut may
// lose the last commits, never corrupt the file) and spares a sync per commit.
void configureConnection(Poco::Data::Session& session, std::chrono::seconds busyTimeout) {
    session << "PRAGMA busy_timeout = " + std::to_string(std::chrono::milliseconds(busyTimeout).count()), now;
    session << "PRAGMA synchronous = NORMAL", now;
}

}  // namespace

SqliteStore::SqliteStore(const std::string& path, int poolSize, std::chrono::seconds busyTimeout)
    : path_(path), busyTimeout_(busyTimeout), pool_(registeredConnector(), path, 1, poolSize, 60) {
    Poco::Data::Session session = openSession();
    // WAL lets readers go on while one process writes; it is a property of the file, set once.
    std::string mode;
    session << "PRAGMA journal_mode = WAL", into(mode), now;
}

SqliteStore::~SqliteStore() {
    bulkStatements_.reset();  // before their connection closes
    bulkSession_.reset();
    checkpointer_.reset();  // after the connection it watches
    pool_.shutdown();
}

Poco::Data::Session SqliteStore::openSession() {
    Poco::Data::Session session = pool_.get();
    configureConnection(session, busyTimeout_);
    return session;
}

Poco::Data::Session SqliteStore::openBulkSession() {
    if (!bulkSession_) {
        Poco::Data::Session session(registeredConnector(), path_);
        configureConnection(session, busyTimeout_);
        sqlite3* database = Poco::Data::SQLite::Utility::dbHandle(session);
        // Its checkpoints run on another thread while it goes on writing. The page cache keeps its default size:
        // the migrator's rows are appended in key order, and a larger cache did not speed it up.
        checkpointer_ = std::make_unique<SqliteCheckpointer>(path_);
        checkpointer_->watch(database);
        bulkStatements_ = std::make_unique<SqliteStatementCache>(database);
        bulkSession_ = std::move(session);
    }
    return *bulkSession_;
}

bool SqliteStore::isDuplicateKey(const Poco::Exception& error) const {
    return dynamic_cast<const Poco::Data::SQLite::ConstraintViolationException*>(&error) != nullptr;
}

std::unique_ptr<RowWriter> SqliteStore::openRowWriter(Poco::Data::Session& session, std::string_view table,
                                                      std::string_view columnNames, std::size_t columnCount) {
    sqlite3* database = Poco::Data::SQLite::Utility::dbHandle(session);
    if (bulkStatements_ && bulkStatements_->database() == database) {
        return std::make_unique<SqliteRowWriter>(*bulkStatements_, table, columnNames, columnCount);
    }
    return std::make_unique<SqliteRowWriter>(database, table, columnNames, columnCount);
}

void SqliteStore::withSchemaLock(Poco::Data::Session& session, const std::function<void()>& apply) {
    // SQLite's DDL is transactional: one immediate transaction is the lock, and a failed upgrade leaves nothing.
    session << "BEGIN IMMEDIATE", now;
    try {
        apply();
        session << "COMMIT", now;
    } catch (...) {
        session << "ROLLBACK", now;
        throw;
    }
}

}  // namespace bridge
