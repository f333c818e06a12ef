#include "bridge/store/MySqlAddress.h"

#include <charconv>

#include "bridge/base/Config.h"

namespace bridge {

namespace {

constexpr std::string_view kScheme = "mysql://";

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

}  // namespace

MySqlAddress MySqlAddress::parse(std::string_view text, std::string_view key) {
    const auto fail = [&](const std::string& why) -> ConfigError {
        return ConfigError(std::string(key) + ": " + why + " (expected mysql://USER:PASS@HOST:PORT/DB)");
    };
    if (!text.starts_with(kScheme)) throw fail("not a mysql:// address");
    std::string_view rest = text.substr(kScheme.size());

    MySqlAddress address;
    const std::size_t query = rest.find('?');
    if (query != std::string_view::npos) {
        const std::string_view parameter = rest.substr(query + 1);
        if (!parameter.starts_with("socket=") || parameter.size() == 7) throw fail("the only parameter is socket=PATH");
        auto socket = percentDecode(parameter.substr(7));
        if (!socket) throw fail("bad percent-encoding in the socket path");
        address.socket = std::move(*socket);
        rest = rest.substr(0, query);
    }

    const std::size_t at = rest.rfind('@');
    if (at == std::string_view::npos) throw fail("no user");
    const std::string_view userInfo = rest.substr(0, at);
    const std::size_t colon = userInfo.find(':');
    auto user = percentDecode(userInfo.substr(0, colon));
    auto password = percentDecode(colon == std::string_view::npos ? std::string_view{} : userInfo.substr(colon + 1));
    if (!user || user->empty() || !password) throw fail("bad user or password");
    address.user = std::move(*user);
    address.password = std::move(*password);

    std::string_view hostPortDatabase = rest.substr(at + 1);
    const std::size_t slash = hostPortDatabase.find('/');
    if (slash == std::string_view::npos || slash + 1 == hostPortDatabase.size()) throw fail("no database");
    address.database = std::string(hostPortDatabase.substr(slash + 1));
    const std::string_view hostPort = hostPortDatabase.substr(0, slash);
    std::size_t portColon = std::string_view::npos;
    if (hostPort.starts_with('[')) {  // an IPv6 address: [::1]:3306
        const std::size_t close = hostPort.find(']');
        if (close == std::string_view::npos) throw fail("bad host");
        address.host = std::string(hostPort.substr(1, close - 1));
        if (close + 1 < hostPort.size()) {
            if (hostPort[close + 1] != ':') throw fail("bad host");
            portColon = close + 1;
        }
    } else {
        portColon = hostPort.rfind(':');
        address.host = std::string(hostPort.substr(0, portColon));
    }
    if (address.host.empty()) {
        if (!address.socket) throw fail("no host");
        address.host = "localhost";  // a socket is on this machine
    }
    if (portColon != std::string_view::npos) {
        const std::string_view portText = hostPort.substr(portColon + 1);
        unsigned port = 0;
        const auto [end, error] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
        if (error != std::errc() || end != portText.data() + portText.size() || port == 0 || port > 65535) {
            throw fail("bad port");
        }
        address.port = static_cast<std::uint16_t>(port);
    }
    return address;
}

std::string MySqlAddress::redacted() const {
    std::string text = "mysql://" + user + "@" + host + ":" + std::to_string(port) + "/" + database;
    if (socket) text += "?socket=" + *socket;
    return text;
}

}  // namespace bridge
