#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "mappings/Vocabulary.h"

// How each side spells the fields of a Salesforce connection: its status, environment and authorization method.

namespace bridge::mappings {

// --- Connection status -------------------------------------------------------------------------------------------

// "NotConnected", "Established", "Lost".
std::string_view legacyStatusName(ConnectionStatus status);
// The legacy panel's statusMessage, word for word.
std::string_view legacyStatusMessage(ConnectionStatus status);
// "NotConnected", "Connected", "Disconnected".
std::string_view modernStatusName(ConnectionStatus status);

std::optional<ConnectionStatus> parseLegacyStatusName(std::string_view name);
std::optional<ConnectionStatus> parseModernStatusName(std::string_view name);

// The legacy database's org_salesforce_connectivity.status: 0, 1, 2.
std::optional<ConnectionStatus> statusFromLegacyCode(int code);
int legacyCodeFromStatus(ConnectionStatus status);

// The new panel's CRM block actions: ["login"] or ["refresh", "disconnect"].
std::vector<std::string_view> modernActions(ConnectionStatus status);

// --- Environment -------------------------------------------------------------------------------------------------

// "production", "sandbox": the word both panels use on the wire.
std::string_view environmentName(Environment environment);
std::optional<Environment> parseEnvironmentName(std::string_view name);

// The legacy database's sf_environment: "P" or "S"; an old release wrote "p" and "s".
std::optional<Environment> environmentFromLegacyLetter(std::string_view letter);
std::string_view legacyLetter(Environment environment);

// --- Authorization method ----------------------------------------------------------------------------------------

enum class AuthorizationMethod { OAuth, ApiOnlyUser };

// The legacy database's auth_method: "oauth", "api_only_user".
std::optional<AuthorizationMethod> authorizationMethodFromLegacyColumn(std::string_view value);
std::string_view authorizationMethodLegacyColumn(AuthorizationMethod method);

// The legacy panel's authorizationMethod field: "oauth", "apiOnlyUser".
std::optional<AuthorizationMethod> parseAuthorizationMethodWireName(std::string_view name);
std::string_view authorizationMethodWireName(AuthorizationMethod method);

}  // namespace bridge::mappings
