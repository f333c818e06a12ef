#pragma once

#include <memory>
#include <string_view>

#include "bridge/store/MySqlAddress.h"

namespace sql {
class Connection;
}

namespace bridge::migrations {

// The legacy database's address (legacy.dsn), reached through MySQL Connector/C++.
struct MySqlDsn : MySqlAddress {
    // Throws bridge::ConfigError naming `key`, as MySqlAddress::parse.
    static MySqlDsn parse(std::string_view text, std::string_view key) { return {MySqlAddress::parse(text, key)}; }

    // A Connector/C++ connection speaking utf8mb4; throws sql::SQLException when the server cannot be reached.
    std::unique_ptr<sql::Connection> connect() const;
};

}  // namespace bridge::migrations
