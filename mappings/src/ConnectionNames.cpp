#include "mappings/ConnectionNames.h"

namespace bridge::mappings {

std::string_view legacyStatusName(ConnectionStatus status) {
    switch (status) {
        case ConnectionStatus::NotConnected: return "NotConnected";
        case ConnectionStatus::Connected: return "Established";
        case ConnectionStatus::Disconnected: return "Lost";
    }
    return "NotConnected";  // unreachable for a valid enumerator
}

std::string_view legacyStatusMessage(ConnectionStatus status) {
    switch (status) {
        case ConnectionStatus::NotConnected: return "Salesforce connection is not established";
        case ConnectionStatus::Connected: return "Salesforce connection established successfully";
        case ConnectionStatus::Disconnected: return "Salesforce connectivity was lost. Do you want to re-establish it?";
    }
    return "Salesforce connection is not established";
}

std::string_view modernStatusName(ConnectionStatus status) {
    switch (status) {
        case ConnectionStatus::NotConnected: return "NotConnected";
        case ConnectionStatus::Connected: return "Connected";
        case ConnectionStatus::Disconnected: return "Disconnected";
    }
    return "NotConnected";
}

std::optional<ConnectionStatus> parseLegacyStatusName(std::string_view name) {
    if (name == "NotConnected") return ConnectionStatus::NotConnected;
    if (name == "Established") return ConnectionStatus::Connected;
    if (name == "Lost") return ConnectionStatus::Disconnected;
    return std::nullopt;
}

std::optional<ConnectionStatus> parseModernStatusName(std::string_view name) {
    if (name == "NotConnected") return ConnectionStatus::NotConnected;
    if (name == "Connected") return ConnectionStatus::Connected;
    if (name == "Disconnected") return ConnectionStatus::Disconnected;
    return std::nullopt;
}

std::optional<ConnectionStatus> statusFromLegacyCode(int code) {
    switch (code) {
        case 0: return ConnectionStatus::NotConnected;
        case 1: return ConnectionStatus::Connected;
        case 2: return ConnectionStatus::Disconnected;
        default: return std::nullopt;
    }
}

int legacyCodeFromStatus(ConnectionStatus status) {
    switch (status) {
        case ConnectionStatus::NotConnected: return 0;
        case ConnectionStatus::Connected: return 1;
        case ConnectionStatus::Disconnected: return 2;
    }
    return 0;
}

std::vector<std::string_view> modernActions(ConnectionStatus status) {
    if (status == ConnectionStatus::NotConnected) return {"login"};
    return {"refresh", "disconnect"};
}

std::string_view environmentName(Environment environment) {
    return environment == Environment::Sandbox ? "sandbox" : "production";
}

std::optional<Environment> parseEnvironmentName(std::string_view name) {
    if (name == "production") return Environment::Production;
    if (name == "sandbox") return Environment::Sandbox;
    return std::nullopt;
}

std::optional<Environment> environmentFromLegacyLetter(std::string_view letter) {
    if (letter == "P" || letter == "p") return Environment::Production;
    if (letter == "S" || letter == "s") return Environment::Sandbox;
    return std::nullopt;
}

std::string_view legacyLetter(Environment environment) { return environment == Environment::Sandbox ? "S" : "P"; }

std::optional<AuthorizationMethod> authorizationMethodFromLegacyColumn(std::string_view value) {
    if (value == "oauth") return AuthorizationMethod::OAuth;
    if (value == "api_only_user") return AuthorizationMethod::ApiOnlyUser;
    return std::nullopt;
}

std::string_view authorizationMethodLegacyColumn(AuthorizationMethod method) {
    return method == AuthorizationMethod::ApiOnlyUser ? "api_only_user" : "oauth";
}

std::optional<AuthorizationMethod> parseAuthorizationMethodWireName(std::string_view name) {
    if (name == "oauth") return AuthorizationMethod::OAuth;
    if (name == "apiOnlyUser") return AuthorizationMethod::ApiOnlyUser;
    return std::nullopt;
}

std::string_view authorizationMethodWireName(AuthorizationMethod method) {
    return method == AuthorizationMethod::ApiOnlyUser ? "apiOnlyUser" : "oauth";
}

}  // namespace bridge::mappings
