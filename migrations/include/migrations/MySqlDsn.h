#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sql {
class Connection;
}

namespace bridge::migrations {

// A MySQL/MariaDB address as configured: mysql://USER:PASS@HOST:PORT/DB, optionally ?socket=PATH. User and
// password may be percent-encoded (a password holding '@', ':' or '/').
struct MySqlDsn {
    std::string user;
    std::string password;
    std::string host;
    std::uint16_t port = 3306;
    std::string database;
    std::optional<std::string> socket;

    // Throws bridge::ConfigError naming `key` for anything else; the message never repeats the password.
    static MySqlDsn parse(std::string_view text, std::string_view key);

    // A Connector/C++ connection speaking utf8mb4; throws sql::SQLException when the server cannot be reached.
    std::unique_ptr<sql::Connection> connect() const;

    // For messages: the address without the password.
    std::string redacted() const;
};

}  // namespace bridge::migrations
