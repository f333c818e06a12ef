#include "bridge/services/Connectivity.h"

#include <chrono>

#include "bridge/base/Error.h"
#include "bridge/base/Logging.h"
#include "bridge/base/WallClock.h"
#include "bridge/crypto/Secrets.h"
#include "mappings/ConnectionNames.h"
#include "mappings/Emails.h"
#include "mappings/SalesforceIds.h"

namespace bridge {

namespace {

// Optimistic writes retry when another request changed the connection between read and write.
constexpr int kWriteAttempts = 5;

UnixSeconds nowSeconds() { return WallClock::unixSeconds(); }

Event eventOf(std::int64_t orgId, EventType type, const std::optional<Actor>& actor,
              std::optional<std::string> detail = std::nullopt) {
    Event event;
    event.orgId = orgId;
    event.at = nowSeconds();
    event.type = type;
    if (actor) {
        event.panel = actor->panel;
        event.actor = actor->subject;
    }
    event.detail = std::move(detail);
    return event;
}

// The connection with its service account forgotten: NotConnected, no token, no ids; the environment stays, as the
// contract asks (refresh and reconnect use it).
Connection withoutServiceAccount(Connection connection, UnixSeconds now) {
    connection.status = ConnectionStatus::NotConnected;
    connection.serviceAccountUserId.reset();
    connection.serviceAccountUsername.reset();
    connection.salesforceOrgId.reset();
    connection.instanceUrl.reset();
    connection.refreshToken.reset();
    connection.lastError.reset();
    connection.connectedAt.reset();
    connection.statusChangedAt = now;
    connection.changedByAdminAt = now;
    return connection;
}

bool holdsServiceAccount(const Connection& connection) {
    return connection.status != ConnectionStatus::NotConnected || connection.refreshToken.has_value();
}

}  // namespace

Connectivity::Connectivity(Store& store, const SalesforceClient& salesforce, const TokenCipher& cipher,
                           ReturnPages returnPages, std::function<void(std::int64_t)> onConnectionChanged,
                           NotificationOutbox outbox)
    : store_(store),
      salesforce_(salesforce),
      cipher_(cipher),
      returnPages_(std::move(returnPages)),
      onConnectionChanged_(std::move(onConnectionChanged)),
      outbox_(outbox) {}

std::string Connectivity::codeVerifierAssociatedData(const std::string& stateHash) { return "oauth:" + stateHash; }

std::string Connectivity::refreshTokenAssociatedData(std::int64_t orgId) {
    return "org:" + std::to_string(orgId) + ":refresh";
}

Connection Connectivity::connection(std::int64_t orgId) { return store_.loadConnection(orgId); }

Connection Connectivity::changeLegacySettings(std::int64_t orgId, const LegacySettingsChange& change,
                                              const Actor& actor) {
    if (change.authorizationMethod) {
        auto method = mappings::parseAuthorizationMethodWireName(*change.authorizationMethod);
        if (!method) throwValidation("authorizationMethod", "authorizationMethod must be oauth or apiOnlyUser");
        if (*method == mappings::AuthorizationMethod::ApiOnlyUser) {
            throw Error(ErrorCode::AuthMethodUnavailable, "API only user authorization is not available yet");
        }
    }
    for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
        const Connection current = store_.loadConnection(orgId);
        const bool toggleChanges = change.serviceAccountLoginEnabled &&
                                   *change.serviceAccountLoginEnabled != current.serviceAccountLoginEnabled;
        if (!toggleChanges) return current;  // "oauth" is the only method there is: nothing else to write

        const bool switchingOff = !*change.serviceAccountLoginEnabled;
        const UnixSeconds now = nowSeconds();
        ConnectionTransition transition;
        transition.expectedVersion = current.version;
        transition.next = current;
        transition.next.orgId = orgId;
        transition.next.changedByAdminAt = now;
        transition.events.push_back(eventOf(orgId, EventType::ToggleChanged, actor, switchingOff ? "off" : "on"));
        const bool forgetting = switchingOff && holdsServiceAccount(current);
        if (forgetting) {
            transition.next = withoutServiceAccount(current, now);
            transition.next.orgId = orgId;
            transition.users = UserEffect::LiftLossSuspensions;
            transition.forgetAccessToken = true;
            transition.events.push_back(
                eventOf(orgId, EventType::Disconnected, actor, "service-account login switched off"));
        }
        transition.next.serviceAccountLoginEnabled = *change.serviceAccountLoginEnabled;
        if (!store_.applyTransition(transition)) continue;
        onConnectionChanged_(orgId);
        if (forgetting && current.refreshToken && current.environment) {
            revokeStoredQuietly(current);
        }
        return store_.loadConnection(orgId);
    }
    throw Error(ErrorCode::StoreUnavailable, "The connection kept changing; try again.");
}

std::string Connectivity::startLogin(std::int64_t orgId, LoginKind kind, std::optional<Environment> environment,
                                     const Actor& actor) {
    const Connection current = store_.loadConnection(orgId);
    // "Never connected" is checked first: it holds whatever the toggle says.
    if (kind == LoginKind::Reconnect || kind == LoginKind::Refresh) {
        if (!current.environment) {
            if (kind == LoginKind::Reconnect) {
                throw Error(ErrorCode::NothingToReconnect, "This organization was never connected to Salesforce.");
            }
            throw Error(ErrorCode::NotConnected, "This profile was never connected to Salesforce.");
        }
        environment = current.environment;
    }
    const bool legacyButton = kind == LoginKind::Connect || kind == LoginKind::Reconnect;
    if (legacyButton && !current.serviceAccountLoginEnabled) {
        throw Error(ErrorCode::ServiceAccountLoginDisabled,
                    "Login using a Salesforce service account is switched off for this organization.");
    }
    const Environment chosen = environment.value_or(Environment::Production);

    const std::string state = base64UrlEncode(randomBytes(32));
    const auto pkce = SalesforceClient::makePkce();
    OAuthAttempt attempt;
    attempt.stateHash = sha256Hex(state);
    attempt.orgId = orgId;
    attempt.panel = actor.panel;
    attempt.environment = chosen;
    attempt.actor = actor.subject;
    attempt.codeVerifier = cipher_.seal(pkce.verifier, codeVerifierAssociatedData(attempt.stateHash));
    attempt.expiresAt = nowSeconds() + kLoginAttemptSeconds;
    store_.insertOAuthAttempt(attempt);
    store_.appendEvent(eventOf(orgId, EventType::LoginStarted, actor, std::string(mappings::environmentName(chosen))));
    return salesforce_.authorizationUrl(chosen, state, pkce.challenge);
}

void Connectivity::disconnect(std::int64_t orgId, const Actor& actor) {
    for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
        const Connection current = store_.loadConnection(orgId);
        if (!holdsServiceAccount(current)) return;
        ConnectionTransition transition;
        transition.expectedVersion = current.version;
        transition.next = withoutServiceAccount(current, nowSeconds());
        transition.next.orgId = orgId;
        transition.users = UserEffect::LiftLossSuspensions;
        transition.forgetAccessToken = true;
        transition.events.push_back(eventOf(orgId, EventType::Disconnected, actor));
        if (!store_.applyTransition(transition)) continue;
        onConnectionChanged_(orgId);
        if (current.refreshToken && current.environment) {
            revokeStoredQuietly(current);
        }
        return;
    }
    throw Error(ErrorCode::StoreUnavailable, "The connection kept changing; try again.");
}

std::string Connectivity::completeLogin(const CallbackQuery& query) {
    if (!query.state || query.state->empty()) return returnPage(std::nullopt, "error&reason=STATE_INVALID");
    const std::string stateHash = sha256Hex(*query.state);
    const auto attempt = store_.consumeOAuthAttempt(stateHash, nowSeconds());
    if (!attempt) {
        // Used or expired: refused on the page of the panel that started it, with an event there.
        if (auto spent = store_.findOAuthAttempt(stateHash)) return refuse(*spent, "STATE_INVALID");
        return returnPage(std::nullopt, "error&reason=STATE_INVALID");
    }
    if (query.error)
        return refuse(*attempt, *query.error == "access_denied" ? "ACCESS_DENIED" : "TOKEN_EXCHANGE_FAILED");
    if (!query.code || query.code->empty()) return refuse(*attempt, "TOKEN_EXCHANGE_FAILED");

    const Environment environment = attempt->environment;
    std::string verifier;
    try {
        verifier = cipher_.open(attempt->codeVerifier, codeVerifierAssociatedData(attempt->stateHash));
    } catch (const TokenCipherError& error) {
        // Sealed under a key no longer configured: the login cannot finish; the admin starts a new one.
        logger("oauth")->error("code verifier of a login attempt of organization {} does not open: {}", attempt->orgId,
                               error.what());
        store_.appendEvent(eventOf(attempt->orgId, EventType::KeyMissing, std::nullopt,
                                   "code verifier of a login attempt sealed under key '" + attempt->codeVerifier.keyId +
                                       "', which does not open it"));
        return refuse(*attempt, "TOKEN_EXCHANGE_FAILED");
    }
    const TokenResult exchanged = salesforce_.exchangeCode(environment, *query.code, verifier);
    if (!exchanged.succeeded()) {
        const bool transient = exchanged.failure().kind == SalesforceFailure::Kind::Transient;
        return refuse(*attempt, transient ? "SALESFORCE_UNAVAILABLE" : "TOKEN_EXCHANGE_FAILED");
    }
    const TokenGrant& grant = exchanged.value();
    if (!grant.refreshToken) {
        revokeQuietly(environment, grant.accessToken);
        return refuse(*attempt, "TOKEN_EXCHANGE_FAILED");
    }
    const std::string& refreshToken = *grant.refreshToken;
    const IdentityResult identity = salesforce_.fetchIdentity(grant.identityUrl, grant.accessToken);
    if (!identity.succeeded()) {
        revokeQuietly(environment, refreshToken);
        const bool transient = identity.failure().kind == SalesforceFailure::Kind::Transient;
        return refuse(*attempt, transient ? "SALESFORCE_UNAVAILABLE" : "TOKEN_EXCHANGE_FAILED");
    }
    const auto userId18 = mappings::toSalesforceId18(identity.value().userId);
    const auto orgId18 = mappings::toSalesforceId18(identity.value().organizationId);
    if (!userId18 || !orgId18) {
        revokeQuietly(environment, refreshToken);
        return refuse(*attempt, "TOKEN_EXCHANGE_FAILED");
    }
    const std::int64_t orgId = attempt->orgId;
    std::vector<std::string> emailKeys{mappings::normalizeEmail(identity.value().username)};
    if (!identity.value().email.empty()) emailKeys.push_back(mappings::normalizeEmail(identity.value().email));
    if (store_.hasActiveEndUser(orgId, *userId18, emailKeys)) {
        revokeQuietly(environment, refreshToken);
        return refuse(*attempt, "SERVICE_ACCOUNT_IS_END_USER");
    }

    const Actor actor{attempt->panel, attempt->actor};
    for (int write = 0; write < kWriteAttempts; ++write) {
        const Connection current = store_.loadConnection(orgId);
        if (current.salesforceOrgId && !mappings::sameSalesforceId(*current.salesforceOrgId, *orgId18)) {
            revokeQuietly(environment, refreshToken);
            return refuse(*attempt, "SALESFORCE_ORG_MISMATCH");
        }
        const UnixSeconds now = nowSeconds();
        ConnectionTransition transition;
        transition.expectedVersion = current.version;
        Connection& next = transition.next;
        next = current;
        next.orgId = orgId;
        next.serviceAccountLoginEnabled = true;
        next.status = ConnectionStatus::Connected;
        next.environment = environment;
        next.serviceAccountUserId = *userId18;
        next.serviceAccountUsername = identity.value().username;
        next.salesforceOrgId = *orgId18;
        next.instanceUrl = grant.instanceUrl;
        next.refreshToken = cipher_.seal(refreshToken, refreshTokenAssociatedData(orgId));
        next.statusChangedAt = now;
        next.connectedAt = now;
        next.lastError.reset();
        next.lastRefreshAt = now;
        next.changedByAdminAt = now;
        transition.users = UserEffect::LiftLossSuspensions;
        transition.forgetAccessToken = true;
        transition.events.push_back(
            eventOf(orgId, EventType::Connected, actor, std::string(mappings::environmentName(environment))));
        // Back from Lost: the webhook hears of the recovery (a first login or a re-login while connected is none).
        if (current.status == ConnectionStatus::Disconnected) transition.notification = outbox_.recovered(next);
        if (!store_.applyTransition(transition)) continue;
        onConnectionChanged_(orgId);
        // The replaced token would otherwise hold one of the account's five approvals until it expires.
        if (current.refreshToken && current.environment) {
            revokeStoredQuietly(current);
        }
        return returnPage(attempt->panel, "connected");
    }
    revokeQuietly(environment, refreshToken);
    throw Error(ErrorCode::StoreUnavailable, "The connection kept changing; try again.");
}

std::vector<Event> Connectivity::events(std::int64_t orgId, std::int64_t beforeEventId, int limit) {
    return store_.listEvents(orgId, beforeEventId, limit);
}

std::vector<Notification> Connectivity::notifications(std::int64_t orgId, std::int64_t beforeSequence, int limit) {
    return store_.listNotifications(orgId, beforeSequence, limit);
}

std::string Connectivity::refuse(const OAuthAttempt& attempt, std::string_view reasonCode) {
    store_.appendEvent(
        eventOf(attempt.orgId, EventType::LoginRefused, Actor{attempt.panel, attempt.actor}, std::string(reasonCode)));
    logger("oauth")->info("login for organization {} refused: {}", attempt.orgId, reasonCode);
    return returnPage(attempt.panel, "error&reason=" + std::string(reasonCode));
}

std::string Connectivity::returnPage(std::optional<Panel> panel, std::string_view outcome) const {
    const std::string& base = panel == Panel::Legacy ? returnPages_.legacy : returnPages_.modern;
    return base + (base.find('?') == std::string::npos ? "?" : "&") + "connectivity=" + std::string(outcome);
}

void Connectivity::revokeStoredQuietly(const Connection& connection) {
    std::string token;
    try {
        token = cipher_.open(*connection.refreshToken, refreshTokenAssociatedData(connection.orgId));
    } catch (const TokenCipherError& error) {
        // The connection is already forgotten here; only the revocation is lost, and the token expires on its own.
        logger("oauth")->warn("refresh token of organization {} does not open, not revoked: {}", connection.orgId,
                              error.what());
        store_.appendEvent(eventOf(connection.orgId, EventType::KeyMissing, std::nullopt,
                                   "refresh token sealed under key '" + connection.refreshToken->keyId +
                                       "', which does not open it: not revoked at Salesforce"));
        return;
    }
    revokeQuietly(*connection.environment, token);
}

void Connectivity::revokeQuietly(Environment environment, const std::string& token) {
    if (!salesforce_.revoke(environment, token)) {
        logger("oauth")->warn("revoking a service-account token at Salesforce failed; it expires on its own");
    }
}

}  // namespace bridge
