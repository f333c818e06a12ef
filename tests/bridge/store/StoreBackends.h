#pragma once

// The two databases the store conformance suite runs against. Each backend hands out empty databases as store
// DSNs, counts rows behind the store's back, and can make a database unreachable and reachable again.

#include <Poco/Data/MySQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "bridge/store/StoreFactory.h"
#include "testsupport/MariaDbServer.h"

namespace bridge::storetest {

// A session of its own on the database a store DSN names, outside every store.
inline Poco::Data::Session openSessionOutsideTheStore(const std::string& dsn) {
    constexpr std::string_view sqlitePrefix = "sqlite:";
    if (dsn.starts_with(sqlitePrefix)) return Poco::Data::Session("SQLite", dsn.substr(sqlitePrefix.size()));
    return Poco::Data::Session("MySQL", mysqlConnectionString(dsn));
}

inline std::int64_t countRows(const std::string& dsn, const std::string& table) {
    using namespace Poco::Data::Keywords;
    Poco::Data::Session session = openSessionOutsideTheStore(dsn);
    Poco::Int64 rows = 0;
    session << "SELECT COUNT(*) FROM " + table, into(rows), now;
    return rows;
}

// A file per database in a temporary directory of the test's own.
class SqliteBackend {
public:
    static constexpr std::string_view kDialect = "sqlite";

    static void startSuite() { Poco::Data::SQLite::Connector::registerConnector(); }
    static void stopSuite() {}

    SqliteBackend() {
        std::string pattern = (std::filesystem::temp_directory_path() / "bridge-store-test-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern + " failed");
        directory_ = pattern;
    }
    ~SqliteBackend() {
        std::error_code ignoredBecauseATestDirectoryLeftBehindHarmsNothing;
        std::filesystem::remove_all(directory_, ignoredBecauseATestDirectoryLeftBehindHarmsNothing);
    }
    SqliteBackend(const SqliteBackend&) = delete;
    SqliteBackend& operator=(const SqliteBackend&) = delete;

    std::string freshDsn() {
        return "sqlite:" + (directory_ / ("store-" + std::to_string(++databases_) + ".db")).string();
    }

    // What makes an SQLite store unavailable: another process holding the write lock for longer than the
    // store's busy timeout. Writes wait and fail; in WAL mode reads go on.
    static constexpr bool kOutageStopsReads = false;
    void interrupt(const std::string& dsn) {
        using namespace Poco::Data::Keywords;
        lockHolder_.emplace(openSessionOutsideTheStore(dsn));
        *lockHolder_ << "BEGIN IMMEDIATE", now;
        *lockHolder_ << "UPDATE schema_version SET version = version", now;
    }
    void restore() {
        using namespace Poco::Data::Keywords;
        *lockHolder_ << "ROLLBACK", now;
        lockHolder_.reset();
    }

private:
    std::filesystem::path directory_;
    int databases_ = 0;
    std::optional<Poco::Data::Session> lockHolder_;
};

// One private MariaDB server for the whole suite, a database and a user of its own per test.
class MariaDbBackend {
public:
    static constexpr std::string_view kDialect = "mysql";

    // From the test's main thread: the server dies with the thread that started it.
    static void startSuite() {
        Poco::Data::MySQL::Connector::registerConnector();
        server_ = std::make_unique<testsupport::MariaDbServer>();
    }
    static void stopSuite() { server_.reset(); }

    std::string freshDsn() {
        if (!server_) throw std::runtime_error("the suite's MariaDB server did not start");
        const std::string number = std::to_string(++databases_);
        const std::string database = "store_" + number;
        server_->createDatabase(database);
        server_->createUser("bridge_" + number, "secret_" + number, database);
        return server_->dsn(database, "bridge_" + number, "secret_" + number);
    }

    // A stopped server: nothing reaches it.
    static constexpr bool kOutageStopsReads = true;
    void interrupt(const std::string&) { server_->stop(); }
    void restore() { server_->start(); }

private:
    inline static std::unique_ptr<testsupport::MariaDbServer> server_;
    inline static int databases_ = 0;
};

}  // namespace bridge::storetest
