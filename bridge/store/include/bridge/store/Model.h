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

// Webhook notifications (issue 18): what the outbox holds for the one deliverer (docs/decisions.md).
using UnixMillis = std::int64_t;

enum class NotificationType { ConnectionLost, ConnectionRecovered };
enum class DeliveryState { Pending, Delivered, Abandoned };

// Wire names ("connection_lost", "pending", ...), shared by the store, the payload and the new panel.
std::string_view notificationTypeName(NotificationType type);
std::optional<NotificationType> parseNotificationType(std::string_view name);
std::string_view deliveryStateName(DeliveryState state);
std::optional<DeliveryState> parseDeliveryState(std::string_view name);

// One outbox row: a transition to Lost or back to Connected, and where its delivery stands. Never a token.
struct Notification {
    std::int64_t sequence = 0;  // the outbox's order (row id), assigned by the store
    std::string id;             // the event's unique id, the receiver's dedupe key
    std::int64_t orgId = 0;
    NotificationType type = NotificationType::ConnectionLost;
    std::optional<Environment> environment;
    std::optional<std::string> reason;  // the loss's Salesforce reason; absent on recovery
    UnixSeconds occurredAt = 0;
    std::int64_t users = 0;  // users suspended or recovered: counted by the store inside the transition
    UnixMillis createdAtMs = 0;
    DeliveryState state = DeliveryState::Pending;
    int attempts = 0;
    std::optional<UnixMillis> lastAttemptAtMs;
    UnixMillis nextAttemptAtMs = 0;
    std::optional<UnixMillis> deliveredAtMs;
    std::optional<std::string> lastError;  // an HTTP status or a short transport reason, never a body
};

// What one delivery attempt came to, written by the deliverer while it holds the delivery lease.
struct DeliveryAttempt {
    std::int64_t sequence = 0;
    std::string leaseOwner;
    UnixMillis atMs = 0;
    DeliveryState outcome = DeliveryState::Pending;  // Pending: failed, tried again at nextAttemptAtMs
    UnixMillis nextAttemptAtMs = 0;
    std::optional<std::string> error;
};

}  // namespace bridge
