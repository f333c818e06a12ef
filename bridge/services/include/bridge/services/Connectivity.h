#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bridge/crypto/TokenCipher.h"
#include "bridge/salesforce/SalesforceClient.h"
#include "bridge/services/NotificationOutbox.h"
#include "bridge/store/Store.h"

namespace bridge {

// Who did something, from which panel: written into events.
struct Actor {
    Panel panel;
    std::string subject;
};

// What the legacy PUT changes; either may be absent.
struct LegacySettingsChange {
    std::optional<bool> serviceAccountLoginEnabled;
    std::optional<std::string> authorizationMethod;  // wire name: "oauth" | "apiOnlyUser"
};

// Which login an admin starts.
enum class LoginKind {
    Connect,    // legacy Salesforce Account / Sandbox buttons: needs the toggle on
    Reconnect,  // legacy "Yes" of the lost dialog: last environment, needs the toggle on and a past connection
    Login,      // new panel "Log in with Salesforce"
    Refresh,    // new panel "Refresh": last environment, needs a past connection
};

// The query of a request to the OAuth callback.
struct CallbackQuery {
    std::optional<std::string> code;
    std::optional<std::string> state;
    std::optional<std::string> error;
};

struct ReturnPages {
    std::string legacy;
    std::string modern;
};

// The one connection state machine (docs/architecture.md): the legacy toggle, logins through either panel, the
// callback, disconnecting, and the events of each. Panels only translate their wire format to these calls.
class Connectivity {
public:
    static constexpr std::int64_t kLoginAttemptSeconds = 600;

    Connectivity(Store& store, const SalesforceClient& salesforce, const TokenCipher& cipher, ReturnPages returnPages,
                 std::function<void(std::int64_t orgId)> onConnectionChanged, NotificationOutbox outbox = {});

    Connection connection(std::int64_t orgId);
    Connection changeLegacySettings(std::int64_t orgId, const LegacySettingsChange& change, const Actor& actor);
    // Returns the Salesforce authorization URL the browser opens.
    std::string startLogin(std::int64_t orgId, LoginKind kind, std::optional<Environment> environment,
                           const Actor& actor);
    void disconnect(std::int64_t orgId, const Actor& actor);
    // Finishes a login; returns where to send the browser (the starting panel's page with the outcome).
    std::string completeLogin(const CallbackQuery& query);
    std::vector<Event> events(std::int64_t orgId, std::int64_t beforeEventId, int limit);
    // The organization's webhook notifications and their delivery state, newest first.
    std::vector<Notification> notifications(std::int64_t orgId, std::int64_t beforeSequence, int limit);

    static std::string refreshTokenAssociatedData(std::int64_t orgId);
    // What a login attempt's PKCE verifier is sealed for: "oauth:<state hash>".
    static std::string codeVerifierAssociatedData(const std::string& stateHash);

private:
    std::string refuse(const OAuthAttempt& attempt, std::string_view reasonCode);
    std::string returnPage(std::optional<Panel> panel, std::string_view outcome) const;
    void revokeQuietly(Environment environment, const std::string& token);
    // Revokes the connection's stored refresh token; one that no configured key opens is left to expire, with a
    // key_missing event.
    void revokeStoredQuietly(const Connection& connection);

    Store& store_;
    const SalesforceClient& salesforce_;
    const TokenCipher& cipher_;
    ReturnPages returnPages_;
    std::function<void(std::int64_t)> onConnectionChanged_;
    NotificationOutbox outbox_;
};

}  // namespace bridge
