#include "bridge/store/MySqlStore.h"

#include <Poco/Data/MySQL/Connector.h>
#include <Poco/Data/MySQL/MySQLException.h>

#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"

using namespace Poco::Data::Keywords;

namespace bridge {

namespace {

constexpr int kSchemaLockWaitSeconds = 60;
// Connecting to a database that is down should fail fast: requests answer 503 instead of hanging.
constexpr std::size_t kLoginTimeoutSeconds = 3;

const std::string& registeredConnector() {
    static const std::string name = [] {
        Poco::Data::MySQL::Connector::registerConnector();
        return std::string("MySQL");
    }();
    return name;
}

}  // namespace

MySqlStore::MySqlStore(const std::string& connectionString, int poolSize)
    : connectionString_((registeredConnector(), connectionString)), maxIdle_(static_cast<std::size_t>(poolSize)) {}

MySqlStore::~MySqlStore() = default;

Poco::Data::Session MySqlStore::openSession() {
    {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            Poco::Data::Session session = idle_.back();
            idle_.pop_back();
            return session;
        }
    }
    return Poco::Data::Session(registeredConnector(), connectionString_, kLoginTimeoutSeconds);
}

void MySqlStore::releaseSession(Poco::Data::Session& session, bool broken) {
    {
        std::lock_guard lock(mutex_);
        if (!broken && idle_.size() < maxIdle_) {
            idle_.push_back(session);
            return;
        }
        // One dead connection usually means the server went away: the idle ones are dead too, so drop them all
        // rather than fail one request per connection once the server is back.
        if (broken) idle_.clear();
    }
    try {
        session.close();
    } catch (const Poco::Exception& error) {
        logger("store")->debug("closing a database connection failed: {}", error.displayText());
    }
}

bool MySqlStore::isDuplicateKey(const Poco::Exception& error) const {
    // ER_DUP_ENTRY; Poco's MySQL exceptions carry the server's message, which names it.
    return error.displayText().find("Duplicate entry") != std::string::npos || error.code() == 1062;
}

void MySqlStore::withSchemaLock(Poco::Data::Session& session, const std::function<void()>& apply) {
    // MySQL's DDL commits implicitly, so a transaction cannot serve as the lock: a named server lock does, and two
    // instances starting on an empty database apply each version once.
    Poco::Nullable<Poco::Int64> acquired;
    session << "SELECT GET_LOCK('bridge_schema', ?)", bind(Poco::Int64{kSchemaLockWaitSeconds}), into(acquired), now;
    if (acquired.isNull() || acquired.value() != 1) {
        throw Error(ErrorCode::StoreUnavailable, "Timed out waiting for another instance to upgrade the schema.");
    }
    try {
        apply();
    } catch (...) {
        Poco::Nullable<Poco::Int64> released;
        session << "SELECT RELEASE_LOCK('bridge_schema')", into(released), now;
        throw;
    }
    Poco::Nullable<Poco::Int64> released;
    session << "SELECT RELEASE_LOCK('bridge_schema')", into(released), now;
}

}  // namespace bridge
