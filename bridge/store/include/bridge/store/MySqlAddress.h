#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bridge {

// A MySQL/MariaDB address as configured (store.dsn, legacy.dsn): mysql://USER:PASS@HOST:PORT/DB, optionally
// ?socket=PATH. User, password and socket path may be percent-encoded (a password holding '@', ':' or '/').
struct MySqlAddress {
    std::string user;
    std::string password;
    std::string host;
    std::uint16_t port = 3306;
    std::string database;
    std::optional<std::string> socket;

    // Throws ConfigError naming `key` for anything else; the message never repeats the password.
    static MySqlAddress parse(std::string_view text, std::string_view key);

    // For messages: the address without the password.
    std::string redacted() const;
};

}  // namespace bridge
