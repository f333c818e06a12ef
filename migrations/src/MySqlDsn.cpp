#include "migrations/MySqlDsn.h"

#include <cppconn/connection.h>
#include <mysql_driver.h>

namespace bridge::migrations {

namespace {

constexpr int kConnectTimeoutSeconds = 10;

// Connector/C++'s driver lookup is not thread-safe; a function-local static runs it exactly once.
sql::mysql::MySQL_Driver* driver() {
    static sql::mysql::MySQL_Driver* const instance = sql::mysql::get_mysql_driver_instance();
    return instance;
}

}  // namespace

std::unique_ptr<sql::Connection> MySqlDsn::connect() const {
    sql::ConnectOptionsMap options;
    options["hostName"] = sql::SQLString(socket ? "unix://" + *socket : "tcp://" + host + ":" + std::to_string(port));
    options["userName"] = sql::SQLString(user);
    options["password"] = sql::SQLString(password);
    options["schema"] = sql::SQLString(database);
    options["OPT_CHARSET_NAME"] = sql::SQLString("utf8mb4");
    options["OPT_CONNECT_TIMEOUT"] = kConnectTimeoutSeconds;
    return std::unique_ptr<sql::Connection>(driver()->connect(options));
}

}  // namespace bridge::migrations
