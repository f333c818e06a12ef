#include "SqlValues.h"

#include <chrono>

namespace bridge::sql {

UnixSeconds nowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string_view statusColumn(ConnectionStatus status) {
    switch (status) {
        case ConnectionStatus::NotConnected: return "not_connected";
        case ConnectionStatus::Connected: return "connected";
        case ConnectionStatus::Disconnected: return "disconnected";
    }
    return "not_connected";
}

ConnectionStatus statusFromColumn(const std::string& value) {
    if (value == "connected") return ConnectionStatus::Connected;
    if (value == "disconnected") return ConnectionStatus::Disconnected;
    return ConnectionStatus::NotConnected;
}

std::string_view environmentColumn(Environment environment) {
    return environment == Environment::Sandbox ? "sandbox" : "production";
}

Environment environmentFromColumn(const std::string& value) {
    return value == "sandbox" ? Environment::Sandbox : Environment::Production;
}

std::string_view panelColumn(Panel panel) { return panel == Panel::Legacy ? "legacy" : "modern"; }

Panel panelFromColumn(const std::string& value) { return value == "legacy" ? Panel::Legacy : Panel::Modern; }

}  // namespace bridge::sql
