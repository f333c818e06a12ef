#include "BrokerRules.h"

namespace bridge {

std::optional<Error> refusalFor(const Connection& connection) {
    if (!connection.serviceAccountLoginEnabled) {
        return Error(ErrorCode::NotConnected,
                     "Login using a Salesforce service account is switched off for this organization.");
    }
    switch (connection.status) {
        case ConnectionStatus::NotConnected: break;
        case ConnectionStatus::Disconnected:
            return Error(ErrorCode::SyncSuspended, connection.lastError.value_or("Salesforce connectivity was lost."));
        case ConnectionStatus::Connected:
            if (connection.refreshToken && connection.environment) return std::nullopt;
            break;
    }
    return Error(ErrorCode::NotConnected, "No Salesforce service account is connected for this organization.");
}

std::string unboundAccessTokenAssociatedData(std::int64_t orgId) { return "org:" + std::to_string(orgId) + ":access"; }

std::string accessTokenAssociatedData(std::int64_t orgId, std::string_view instanceUrl, UnixSeconds expiresAt) {
    // The URL cannot hold a newline, so no other (URL, expiry) pair writes the same text.
    return unboundAccessTokenAssociatedData(orgId) + ":v2\n" + std::string(instanceUrl) + "\n" +
           std::to_string(expiresAt);
}

OpenedAccessToken openAccessToken(const TokenCipher& cipher, std::int64_t orgId, const StoredAccessToken& stored) {
    try {
        return {cipher.open(stored.token, accessTokenAssociatedData(orgId, stored.instanceUrl, stored.expiresAt)),
                std::nullopt};
    } catch (const TokenCipherError& bound) {
        try {
            cipher.open(stored.token, unboundAccessTokenAssociatedData(orgId));
            return {};  // sealed before the binding: refreshed without alarm
        } catch (const TokenCipherError&) {
            return {std::nullopt, std::string("the stored access token does not authenticate with its instance URL "
                                              "and expiry: ") +
                                      bound.what()};
        }
    }
}

}  // namespace bridge
