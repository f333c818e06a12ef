#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/crypto/SealedToken.h"
#include "mappings/Vocabulary.h"

// The store's entities. Times are whole seconds since the Unix epoch, UTC; mappings/ formats them per panel.

namespace bridge {

using UnixSeconds = std::int64_t;

// A legacy organization and a new-panel profile are one entity with two ids; the profile id is an encoding of
// the legacy one (bridge/store/PublicIds.h).
struct Organization {
    std::int64_t legacyId = 0;
    std::string name;

    std::string publicId() const;
};

// A legacy user and a new-panel user are one entity with two ids, like an organization.
struct User {
    std::int64_t legacyId = 0;
    std::int64_t orgId = 0;
    std::string email;
    std::optional<std::string> displayName;
    std::optional<std::string> salesforceUserId;  // always the 18-character form
    bool active = true;
    bool syncSuspended = false;
    std::optional<std::string> suspendReason;
    // Set when the suspension came from this organization's connection being lost, so that a fresh login or a
    // disconnect lifts exactly these suspensions and no others.
    bool suspendedByLoss = false;

    std::string publicId() const;
};

// The organization's Salesforce service-account connection. Absent rows read as a default NotConnected one.
struct Connection {
    std::int64_t orgId = 0;
    bool serviceAccountLoginEnabled = false;  // the legacy toggle
    std::string authorizationMethod = "oauth";
    ConnectionStatus status = ConnectionStatus::NotConnected;
    std::optional<Environment> environment;           // the last connection's, kept while NotConnected
    std::optional<std::string> serviceAccountUserId;  // 18 characters
    std::optional<std::string> serviceAccountUsername;
    std::optional<std::string> salesforceOrgId;  // 18 characters
    std::optional<std::string> instanceUrl;
    std::optional<SealedToken> refreshToken;
    std::optional<UnixSeconds> statusChangedAt;
    std::optional<UnixSeconds> connectedAt;
    std::optional<std::string> lastError;      // "error: description" as Salesforce answered
    std::optional<UnixSeconds> lastRefreshAt;  // last time the refresh token was used at Salesforce
    // Set when an admin changed the connection through a panel; the migrator never overwrites such a row.
    std::optional<UnixSeconds> changedByAdminAt;
    std::int64_t version = 0;  // optimistic-concurrency counter, bumped by every write
};

enum class EventType {
    LoginStarted,
    Connected,
    LoginRefused,
    ToggleChanged,
    Lost,
    Disconnected,
    RefreshTokenRotated,
    Migrated,
    // Beyond API.md's list: the broker refused a stored access token (altered row, key missing) and minted anew.
    AccessTokenRefused,
    // Beyond API.md's list: a stored secret is sealed under a key no longer configured (detail: which secret, key id).
    KeyMissing,
};

// The wire names of event types ("login_started", ...), shared by the store and the new panel.
std::string_view eventTypeName(EventType type);
std::optional<EventType> parseEventType(std::string_view name);

struct Event {
    std::int64_t id = 0;
    std::int64_t orgId = 0;
    UnixSeconds at = 0;
    EventType type = EventType::Connected;
    std::optional<Panel> panel;
    std::optional<std::string> actor;
    std::optional<std::string> detail;  // never a token
};

// A pending OAuth login, found by the SHA-256 of its state; the PKCE verifier is sealed like a token.
struct OAuthAttempt {
    std::string stateHash;
    std::int64_t orgId = 0;
    Panel panel = Panel::Modern;
    Environment environment = Environment::Production;
    std::string actor;
    SealedToken codeVerifier;
    UnixSeconds expiresAt = 0;
};

// The organization's shared access token as the broker caches it in the store for every instance.
struct StoredAccessToken {
    SealedToken token;
    std::string instanceUrl;
    UnixSeconds expiresAt = 0;
};

}  // namespace bridge
