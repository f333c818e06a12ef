#include "bridge/SqliteStore.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>

#include "bridge/Error.h"
#include "bridge/Logging.h"

using namespace Poco::Data::Keywords;

namespace bridge {

namespace {

// Writers from several processes queue on the file lock for up to this long before the store reports itself
// unavailable.
constexpr int kBusyTimeoutMs = 5000;

void registerConnectorOnce() {
    static const bool registered = [] {
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

}  // namespace

SqliteStore::SqliteStore(const std::string& path, int poolSize) : pool_(registeredConnector(), path, 1, poolSize, 60) {
    Poco::Data::Session session = openSession();
    // WAL lets readers go on while one process writes; it is a property of the file, set once.
    std::string mode;
    session << "PRAGMA journal_mode = WAL", into(mode), now;
}

SqliteStore::~SqliteStore() { pool_.shutdown(); }

Poco::Data::Session SqliteStore::openSession() {
    Poco::Data::Session session = pool_.get();
    // Both are settings of the connection, not of the file: every pooled connection needs them. NORMAL is safe
    // with WAL (a power cut may lose the last commits, never corrupt the file) and spares a sync per commit.
    session << "PRAGMA busy_timeout = " + std::to_string(kBusyTimeoutMs), now;
    session << "PRAGMA synchronous = NORMAL", now;
    return session;
}

bool SqliteStore::isDuplicateKey(const Poco::Exception& error) const {
    return dynamic_cast<const Poco::Data::SQLite::ConstraintViolationException*>(&error) != nullptr;
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
