#include "bridge/store/StoreFactory.h"

#include <cctype>
#include <cstdlib>

#include "bridge/base/Config.h"
#include "bridge/store/MySqlAddress.h"
#include "bridge/store/MySqlStore.h"
#include "bridge/store/SqliteStore.h"

namespace bridge {

namespace {

// Poco's connection string is "key=value;...", values stripped of surrounding spaces: a ';' inside a value would
// start a key of its own, and a space at either end would silently go.
bool fitsConnectionString(const std::string& value) {
    const auto isSpace = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
    return value.find(';') == std::string::npos &&
           (value.empty() || (!isSpace(value.front()) && !isSpace(value.back())));
}

}  // namespace

std::string mysqlConnectionString(const std::string& dsn) {
    const MySqlAddress address = MySqlAddress::parse(dsn, "store.dsn");
    for (const std::string* value : {&address.user, &address.password, &address.host, &address.database}) {
        if (!fitsConnectionString(*value)) {
            throw ConfigError(
                "store.dsn: the user, password, host and database may not hold ';' nor begin or end with a space "
                "(the connector's connection string cannot carry them)");
        }
    }
    std::string host = address.host;
    if (address.socket) {
        // Poco's MySQL connector has no socket key; the client library takes the socket of a "localhost"
        // connection from MYSQL_UNIX_PORT.
        ::setenv("MYSQL_UNIX_PORT", address.socket->c_str(), 1);
        host = "localhost";
    }
    return "host=" + host + ";port=" + std::to_string(address.port) + ";user=" + address.user +
           ";password=" + address.password + ";db=" + address.database + ";character-set=utf8mb4";
}

std::unique_ptr<Store> openStore(const std::string& dsn, int poolSize, std::chrono::seconds timeout) {
    constexpr std::string_view sqlitePrefix = "sqlite:";
    if (dsn.rfind(sqlitePrefix, 0) == 0) {
        const std::string path = dsn.substr(sqlitePrefix.size());
        if (path.empty()) throw ConfigError("store.dsn sqlite: needs a file path");
        return std::make_unique<SqliteStore>(path, poolSize, timeout);
    }
    if (!dsn.starts_with("mysql://")) {
        throw ConfigError("store.dsn: expected sqlite:PATH or mysql://USER:PASS@HOST:PORT/DB");
    }
    return std::make_unique<MySqlStore>(mysqlConnectionString(dsn), poolSize, timeout);
}

}  // namespace bridge
