#include "bridge/store/MySqlStore.h"

#include <Poco/Data/MySQL/Connector.h>
#include <Poco/Data/MySQL/MySQLException.h>
#include <Poco/Data/MySQL/SessionImpl.h>
#include <mysql/ma_pvio.h>
#include <mysql/mysql.h>

#include <algorithm>

#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"

using namespace Poco::Data::Keywords;

namespace bridge {

namespace {

constexpr int kSchemaLockWaitSeconds = 60;
// Connecting to a database that is down should fail fast: requests answer 503 instead of hanging. Also bounds the
// wait for the server's greeting, so a frozen server is noticed while connecting too.
constexpr std::chrono::seconds kLoginTimeout{3};

const std::string& registeredConnector() {
    static const std::string name = [] {
        Poco::Data::MySQL::Connector::registerConnector();
        return std::string("MySQL");
    }();
    return name;
}

// Bounds every later read and write of a connected session. Poco only sets MYSQL_OPT_READ_TIMEOUT and
// MYSQL_OPT_WRITE_TIMEOUT before connecting, and its MySQL session connects in its constructor, so the options
// would never reach the socket: the timeouts are set on the connection's I/O layer (MariaDB Connector/C's pvio,
// public in its ma_pvio.h) instead. Its sockets are non-blocking; each wait polls for at most this long.
void boundReadsAndWrites(Poco::Data::Session& session, std::chrono::seconds timeout) {
    auto* impl = dynamic_cast<Poco::Data::MySQL::SessionImpl*>(session.impl());
    MYSQL* mysql = impl == nullptr ? nullptr : static_cast<MYSQL*>(impl->handle());
    MARIADB_PVIO* pvio = mysql == nullptr ? nullptr : mysql->net.pvio;
    if (pvio == nullptr || pvio->methods == nullptr || pvio->methods->set_timeout == nullptr) {
        throw Error(ErrorCode::StoreUnavailable, "The store is unavailable; try again shortly.");
    }
    const int seconds = static_cast<int>(timeout.count());
    pvio->methods->set_timeout(pvio, PVIO_READ_TIMEOUT, seconds);
    pvio->methods->set_timeout(pvio, PVIO_WRITE_TIMEOUT, seconds);
}

}  // namespace

MySqlStore::MySqlStore(const std::string& connectionString, int poolSize, std::chrono::seconds timeout)
    : connectionString_((registeredConnector(), connectionString)),
      maxIdle_(static_cast<std::size_t>(poolSize)),
      timeout_(timeout) {}

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
    const auto loginTimeout = std::min<std::chrono::seconds>(kLoginTimeout, timeout_);
    Poco::Data::Session session(registeredConnector(), connectionString_,
                                static_cast<std::size_t>(loginTimeout.count()));
    boundReadsAndWrites(session, timeout_);
    return session;
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
