#include "bridge/StoreFactory.h"

#include <Poco/URI.h>

#include <cstdlib>

#include "bridge/Config.h"
#include "bridge/MySqlStore.h"
#include "bridge/SqliteStore.h"

namespace bridge {

std::string mysqlConnectionString(const std::string& dsn) {
    Poco::URI uri;
    try {
        uri = Poco::URI(dsn);
    } catch (const Poco::SyntaxException&) {
        throw ConfigError("store DSN is not a valid mysql:// URL");
    }
    if (uri.getScheme() != "mysql") throw ConfigError("store DSN must start with mysql:// or sqlite:");
    std::string user = uri.getUserInfo();
    std::string password;
    if (auto colon = user.find(':'); colon != std::string::npos) {
        password = user.substr(colon + 1);
        user.resize(colon);
    }
    std::string database = uri.getPath();
    if (!database.empty() && database.front() == '/') database.erase(0, 1);
    if (user.empty() || database.empty()) throw ConfigError("a mysql:// DSN needs a user and a database");
    std::string host = uri.getHost().empty() ? "127.0.0.1" : uri.getHost();
    for (const auto& [name, value] : uri.getQueryParameters()) {
        if (name == "socket") {
            // Poco's MySQL connector has no socket key; the client library takes the socket of a "localhost"
            // connection from MYSQL_UNIX_PORT.
            ::setenv("MYSQL_UNIX_PORT", value.c_str(), 1);
            host = "localhost";
        }
    }
    std::string connection =
        "host=" + host + ";user=" + user + ";password=" + password + ";db=" + database + ";character-set=utf8mb4";
    if (uri.getPort() != 0) connection += ";port=" + std::to_string(uri.getPort());
    return connection;
}

std::unique_ptr<Store> openStore(const std::string& dsn, int poolSize) {
    constexpr std::string_view sqlitePrefix = "sqlite:";
    if (dsn.rfind(sqlitePrefix, 0) == 0) {
        const std::string path = dsn.substr(sqlitePrefix.size());
        if (path.empty()) throw ConfigError("store.dsn sqlite: needs a file path");
        return std::make_unique<SqliteStore>(path, poolSize);
    }
    return std::make_unique<MySqlStore>(mysqlConnectionString(dsn), poolSize);
}

}  // namespace bridge
