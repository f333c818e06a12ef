#include "migrations/MySqlDsn.h"

#include <cppconn/connection.h>
#include <mysql_driver.h>

#include <charconv>

#include "bridge/Config.h"

namespace bridge::migrations {

namespace {

constexpr std::string_view kScheme = "mysql://";
constexpr int kConnectTimeoutSeconds = 10;

int hexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> percentDecode(std::string_view text) {
    std::string decoded;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            decoded += text[i];
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        const int high = hexDigit(text[i + 1]);
        const int low = hexDigit(text[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        decoded += static_cast<char>(high * 16 + low);
        i += 2;
    }
    return decoded;
}

// Connector/C++'s driver lookup is not thread-safe; a function-local static runs it exactly once.
sql::mysql::MySQL_Driver* driver() {
    static sql::mysql::MySQL_Driver* const instance = sql::mysql::get_mysql_driver_instance();
    return instance;
}

}  // namespace

MySqlDsn MySqlDsn::parse(std::string_view text, std::string_view key) {
    const auto fail = [&](const std::string& why) -> ConfigError {
        return ConfigError(std::string(key) + ": " + why + " (expected mysql://USER:PASS@HOST:PORT/DB)");
    };
    if (!text.starts_with(kScheme)) throw fail("not a mysql:// address");
    std::string_view rest = text.substr(kScheme.size());

    MySqlDsn dsn;
    const std::size_t query = rest.find('?');
    if (query != std::string_view::npos) {
        const std::string_view parameter = rest.substr(query + 1);
        if (!parameter.starts_with("socket=") || parameter.size() == 7) throw fail("the only parameter is socket=PATH");
        auto socket = percentDecode(parameter.substr(7));
        if (!socket) throw fail("bad percent-encoding in the socket path");
        dsn.socket = std::move(*socket);
        rest = rest.substr(0, query);
    }

    const std::size_t at = rest.rfind('@');
    if (at == std::string_view::npos) throw fail("no user");
    const std::string_view userInfo = rest.substr(0, at);
    const std::size_t colon = userInfo.find(':');
    auto user = percentDecode(userInfo.substr(0, colon));
    auto password = percentDecode(colon == std::string_view::npos ? std::string_view{} : userInfo.substr(colon + 1));
    if (!user || user->empty() || !password) throw fail("bad user or password");
    dsn.user = std::move(*user);
    dsn.password = std::move(*password);

    std::string_view hostPortDatabase = rest.substr(at + 1);
    const std::size_t slash = hostPortDatabase.find('/');
    if (slash == std::string_view::npos || slash + 1 == hostPortDatabase.size()) throw fail("no database");
    dsn.database = std::string(hostPortDatabase.substr(slash + 1));
    const std::string_view hostPort = hostPortDatabase.substr(0, slash);
    const std::size_t portColon = hostPort.rfind(':');
    dsn.host = std::string(hostPort.substr(0, portColon));
    if (dsn.host.empty()) throw fail("no host");
    if (portColon != std::string_view::npos) {
        const std::string_view portText = hostPort.substr(portColon + 1);
        unsigned port = 0;
        const auto [end, error] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
        if (error != std::errc() || end != portText.data() + portText.size() || port == 0 || port > 65535) {
            throw fail("bad port");
        }
        dsn.port = static_cast<std::uint16_t>(port);
    }
    return dsn;
}

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

std::string MySqlDsn::redacted() const {
    std::string text = "mysql://" + user + "@" + host + ":" + std::to_string(port) + "/" + database;
    if (socket) text += "?socket=" + *socket;
    return text;
}

}  // namespace bridge::migrations
