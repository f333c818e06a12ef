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

std::string accessTokenAssociatedData(std::int64_t orgId) { return "org:" + std::to_string(orgId) + ":access"; }

}  // namespace bridge
