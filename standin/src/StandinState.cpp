#include "StandinState.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "LoginPage.h"
#include "OAuthCrypto.h"
#include "standin/SalesforceIds.h"

namespace bridge::standin {
namespace {

const std::string kExpiredToken = "expired access/refresh token";
const std::string kAuthenticationFailure = "authentication failure";
const std::string kInactiveUser = "inactive user";
const std::string kAlreadyProcessing = "token request is already being processed";
const std::string kInvalidCodeVerifier = "invalid code verifier";
const std::string kInvalidClientCredentials = "invalid client credentials";
constexpr std::size_t kApprovalsPerUser = 5;
constexpr std::size_t kShortIdLength = 15;

Identity defaultIdentity() {
    return Identity{.userId = "005xx000001SvYbAAK",
                    .organizationId = "00Dxx0000001gPLEAY",
                    .username = "integration.user@acme.example",
                    .email = "integration.user@acme.example",
                    .displayName = "Integration User",
                    .active = true,
                    .userType = "STANDARD"};
}

Identity newUserWithDefaults(const std::string& userId) {
    Identity identity = defaultIdentity();
    if (userId == identity.userId) return identity;
    identity.userId = userId;
    identity.username = "user-" + userId + "@standin.example";
    identity.email = identity.username;
    identity.displayName = "Stand-in User " + userId;
    return identity;
}

// application/x-www-form-urlencoded, as Salesforce encodes redirect parameters.
std::string formEncode(std::string_view value) {
    static constexpr std::string_view kHexDigits = "0123456789ABCDEF";
    std::string encoded;
    for (char character : value) {
        auto byte = static_cast<unsigned char>(character);
        bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                          (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' || byte == '_' || byte == '~';
        if (unreserved) {
            encoded += character;
        } else if (byte == ' ') {
            encoded += '+';
        } else {
            encoded += '%';
            encoded += kHexDigits[byte >> 4];
            encoded += kHexDigits[byte & 0x0F];
        }
    }
    return encoded;
}

bool isAbsoluteHttpUrl(const std::string& url) {
    try {
        Poco::URI uri(url);
        return (uri.getScheme() == "http" || uri.getScheme() == "https") && !uri.getHost().empty();
    } catch (const Poco::SyntaxException&) {
        return false;
    }
}

std::string withQuery(const std::string& url, const std::string& query) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

std::string stateSuffix(const StandinRequest& request) {
    return request.parameters.contains("state") ? "&state=" + formEncode(request.parameter("state")) : std::string();
}

StandinAnswer redirectWithError(const std::string& redirectUri, const std::string& error,
                                const std::string& description, const StandinRequest& request) {
    return StandinAnswer::redirect(withQuery(redirectUri, "error=" + formEncode(error) + "&error_description=" +
                                                              formEncode(description) + stateSuffix(request)));
}

bool scopeGrantsRefreshToken(const std::string& scope) {
    std::istringstream words(scope);
    std::string word;
    while (words >> word) {
        if (word == "refresh_token" || word == "offline_access") return true;
    }
    return false;
}

std::string millisecondsSinceEpoch() {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

StandinAnswer faultAnswer(const TokenFault& fault) {
    switch (fault.kind) {
        case FaultKind::Status500:
            return StandinAnswer::html(fault.status,
                                       fault.status == 500 ? "Internal Server Error" : "Service Unavailable",
                                       "An unexpected error occurred. Please try again later.");
        case FaultKind::Hang: return StandinAnswer::hangThenDrop(fault.hangMs);
        case FaultKind::NonJson:
            return StandinAnswer::html(200, "Salesforce - Down For Maintenance",
                                       "This site is down for maintenance. Please check back soon.");
        case FaultKind::Drop: return StandinAnswer::drop();
        case FaultKind::Processing: return StandinAnswer::oauthError(400, "invalid_grant", kAlreadyProcessing);
        case FaultKind::InvalidGrant: return StandinAnswer::oauthError(400, "invalid_grant", fault.description);
        case FaultKind::InvalidClient:
            return StandinAnswer::oauthError(400, "invalid_client", kInvalidClientCredentials);
    }
    throw std::logic_error("unhandled fault kind");
}

Poco::JSON::Object::Ptr countsToJson(const std::map<std::string, std::int64_t>& counts) {
    Poco::JSON::Object::Ptr json = new Poco::JSON::Object;
    for (const auto& [key, count] : counts) json->set(key, count);
    return json;
}

}  // namespace

StandinState::StandinState(std::string clientId, std::string clientSecret)
    : clientId_(std::move(clientId)), clientSecret_(std::move(clientSecret)) {
    forgetEverything();
}

StandinAnswer StandinState::authorize(const StandinRequest& request) {
    std::lock_guard lock(mutex_);
    ++counters_.authorizeRequests;
    ++counters_.authorizeRequestsByHost[request.host];

    if (request.parameter("client_id") != clientId_) {
        return StandinAnswer::html(400, "OAuth Error", "error=invalid_client_id: client identifier invalid");
    }
    const std::string redirectUri = request.parameter("redirect_uri");
    if (!isAbsoluteHttpUrl(redirectUri)) {
        return StandinAnswer::html(400, "OAuth Error", "error=redirect_uri_mismatch: redirect_uri must be a URL");
    }
    if (request.parameter("response_type") != "code") {
        return redirectWithError(redirectUri, "unsupported_response_type", "response type not supported", request);
    }
    const std::string codeChallenge = request.parameter("code_challenge");
    if (!codeChallenge.empty() && request.parameter("code_challenge_method") != "S256") {
        return redirectWithError(redirectUri, "invalid_request", "code_challenge_method must be S256", request);
    }
    if (!approveAuthorizations_) {
        return redirectWithError(redirectUri, "access_denied", "end-user denied authorization", request);
    }

    if (wantsLoginPage(request)) return loginPage(request, users_, currentUserId_);
    const std::string chosenUserId =
        request.parameters.contains("login_user") ? request.parameter("login_user") : currentUserId_;
    const auto chosen = users_.find(chosenUserId);
    if (chosen == users_.end()) return StandinAnswer::html(400, "Login Error", "error=unknown user");
    const Identity& identity = chosen->second;
    // Real codes end in "==", which makes clients decode the redirect's query properly.
    const std::string code = "aPrx" + randomTokenCharacters(80) + "==";
    codes_[code] = PendingCode{.redirectUri = redirectUri,
                               .codeChallenge = codeChallenge,
                               .userId = identity.userId,
                               .organizationId = identity.organizationId,
                               .scope = request.parameters.contains("scope") ? request.parameter("scope") : "api",
                               .loginHost = request.host};
    return StandinAnswer::redirect(withQuery(redirectUri, "code=" + formEncode(code) + stateSuffix(request)));
}

StandinAnswer StandinState::token(const StandinRequest& request) {
    if (request.method != "POST") return StandinAnswer::oauthError(400, "invalid_request", "must use HTTP POST");
    const std::string grantType = request.parameter("grant_type");

    std::unique_lock lock(mutex_);
    if (grantType == "authorization_code") ++counters_.codeExchanges;
    if (grantType == "refresh_token") {
        ++counters_.refreshCalls;
        counters_.maxPresentationsPerRefreshToken =
            std::max(counters_.maxPresentationsPerRefreshToken, ++presentations_[request.parameter("refresh_token")]);
        if (auto record = refreshTokens_.find(request.parameter("refresh_token")); record != refreshTokens_.end()) {
            const Grant& grant = grants_.at(record->second.grantId);
            ++counters_.refreshCallsByOrganization[grant.organizationId];
            ++counters_.refreshCallsByUser[grant.userId];
        }
    }
    if (std::optional<TokenFault> fault = takeFault(grantType)) {
        ++counters_.faultsServed;
        return faultAnswer(*fault);
    }
    if (!clientAuthenticated(request)) {
        return StandinAnswer::oauthError(400, "invalid_client", kInvalidClientCredentials);
    }
    if (grantType == "authorization_code") return exchangeCode(request);
    if (grantType == "refresh_token") return refresh(request, lock);
    return StandinAnswer::oauthError(400, "unsupported_grant_type", "grant type not supported");
}

StandinAnswer StandinState::revoke(const StandinRequest& request, bool redirected) {
    std::lock_guard lock(mutex_);
    if (settings_.revokeRedirect && !redirected) {
        const std::string base =
            settings_.revokeRedirectBase.empty() ? "http://" + request.host : settings_.revokeRedirectBase;
        std::string location = base + "/services/oauth2/revoke/redirected";
        if (!request.rawQuery.empty()) location += "?" + request.rawQuery;
        return StandinAnswer::redirect(location);
    }
    const std::string token = request.parameter("token");
    if (auto refreshToken = refreshTokens_.find(token); refreshToken != refreshTokens_.end()) {
        Grant& grant = grants_.at(refreshToken->second.grantId);
        if (!grant.revokedBecause) {
            revokeGrant(grant, kExpiredToken, true);
            ++counters_.revocations;
            return StandinAnswer{};
        }
    } else if (auto accessToken = accessTokens_.find(token);
               accessToken != accessTokens_.end() && !accessToken->second.revoked) {
        accessToken->second.revoked = true;
        ++counters_.revocations;
        return StandinAnswer{};
    }
    return StandinAnswer::oauthError(400, "unsupported_token_type", "this token type is not supported");
}

StandinAnswer StandinState::identity(const StandinRequest& request, const std::string& organizationId,
                                     const std::string& userId) {
    std::lock_guard lock(mutex_);
    auto accessToken = accessTokens_.find(request.bearerToken);
    if (request.bearerToken.empty() || accessToken == accessTokens_.end() || accessToken->second.revoked) {
        return StandinAnswer::text(403, "Bad_OAuth_Token");
    }
    const Grant& grant = grants_.at(accessToken->second.grantId);
    std::string canonicalOrganizationId;
    std::string canonicalUserId;
    try {
        canonicalOrganizationId = toEighteenCharacterId(organizationId);
        canonicalUserId = toEighteenCharacterId(userId);
    } catch (const std::invalid_argument&) {
        return StandinAnswer::text(404, "Bad_Id");
    }
    auto user = users_.find(canonicalUserId);
    if (canonicalOrganizationId != grant.organizationId || user == users_.end() ||
        user->second.organizationId != canonicalOrganizationId) {
        return StandinAnswer::text(404, "Bad_Id");
    }
    const Identity& identity = user->second;
    Poco::JSON::Object body;
    body.set("id", "http://" + request.host + "/id/" + identity.organizationId + "/" + identity.userId);
    body.set("asserted_user", identity.userId == grant.userId);
    body.set("user_id", identity.userId);
    body.set("organization_id", identity.organizationId);
    body.set("username", identity.username);
    body.set("email", identity.email);
    body.set("display_name", identity.displayName);
    body.set("active", identity.active);
    body.set("user_type", identity.userType);
    return StandinAnswer::json(200, body);
}

Identity StandinState::setIdentity(const IdentityUpdate& update) {
    std::lock_guard lock(mutex_);
    const std::string userId = update.userId ? toEighteenCharacterId(*update.userId) : defaultIdentity().userId;
    auto known = users_.find(userId);
    Identity identity = known != users_.end() ? known->second : newUserWithDefaults(userId);
    if (update.organizationId) identity.organizationId = toEighteenCharacterId(*update.organizationId);
    if (update.username) identity.username = *update.username;
    if (update.email) identity.email = *update.email;
    if (update.displayName) identity.displayName = *update.displayName;
    if (update.active) identity.active = *update.active;
    if (update.userType) identity.userType = *update.userType;
    users_[userId] = identity;
    currentUserId_ = userId;
    return identity;
}

Identity StandinState::currentIdentity() const {
    std::lock_guard lock(mutex_);
    return users_.at(currentUserId_);
}

void StandinState::setAuthorizeDecision(bool approve) {
    std::lock_guard lock(mutex_);
    approveAuthorizations_ = approve;
}

int StandinState::queueFault(const TokenFault& fault) {
    std::lock_guard lock(mutex_);
    faults_.push_back(fault);
    int queued = 0;
    for (const TokenFault& queuedFault : faults_) queued += queuedFault.remaining;
    return queued;
}

int StandinState::expireRefreshTokens(const std::optional<std::string>& userId,
                                      const std::optional<std::string>& organizationId) {
    const std::optional<std::string> canonicalUserId =
        userId ? std::optional(toEighteenCharacterId(*userId)) : std::nullopt;
    const std::optional<std::string> canonicalOrganizationId =
        organizationId ? std::optional(toEighteenCharacterId(*organizationId)) : std::nullopt;
    std::lock_guard lock(mutex_);
    int expired = 0;
    for (auto& [grantId, grant] : grants_) {
        if (!grant.hasRefreshToken || grant.revokedBecause) continue;
        if (canonicalUserId && grant.userId != *canonicalUserId) continue;
        if (canonicalOrganizationId && grant.organizationId != *canonicalOrganizationId) continue;
        // An expired refresh token leaves the sessions it opened alone.
        revokeGrant(grant, kExpiredToken, false);
        ++expired;
    }
    return expired;
}

bool StandinState::deactivateUser(const std::string& userId) {
    const std::string canonicalUserId = toEighteenCharacterId(userId);
    std::lock_guard lock(mutex_);
    auto user = users_.find(canonicalUserId);
    if (user == users_.end()) return false;
    user->second.active = false;
    return true;
}

bool StandinState::markPasswordChanged(const std::string& userId) {
    const std::string canonicalUserId = toEighteenCharacterId(userId);
    std::lock_guard lock(mutex_);
    if (!users_.contains(canonicalUserId)) return false;
    for (auto& [grantId, grant] : grants_) {
        if (grant.userId == canonicalUserId) revokeGrant(grant, kAuthenticationFailure, true);
    }
    return true;
}

StandinSettings StandinState::updateSettings(const StandinSettingsUpdate& update) {
    std::lock_guard lock(mutex_);
    if (update.rotation) settings_.rotation = *update.rotation;
    if (update.approvalLimit) settings_.approvalLimit = *update.approvalLimit;
    if (update.refreshDelayMs) settings_.refreshDelayMs = *update.refreshDelayMs;
    if (update.revokeRedirect) settings_.revokeRedirect = *update.revokeRedirect;
    if (update.revokeRedirectBase) settings_.revokeRedirectBase = *update.revokeRedirectBase;
    if (update.instanceUrl) settings_.instanceUrl = *update.instanceUrl;
    if (update.identityUrl) settings_.identityUrl = *update.identityUrl;
    return settings_;
}

Poco::JSON::Object StandinState::counters() const {
    std::lock_guard lock(mutex_);
    Poco::JSON::Object json;
    json.set("authorizeRequests", counters_.authorizeRequests);
    json.set("authorizeRequestsByHost", countsToJson(counters_.authorizeRequestsByHost));
    json.set("codeExchanges", counters_.codeExchanges);
    json.set("pkceFailures", counters_.pkceFailures);
    json.set("refreshCalls", counters_.refreshCalls);
    json.set("refreshCallsByOrganization", countsToJson(counters_.refreshCallsByOrganization));
    json.set("refreshCallsByUser", countsToJson(counters_.refreshCallsByUser));
    json.set("revocations", counters_.revocations);
    json.set("retiredTokenPresented", counters_.retiredTokenPresented);
    json.set("maxConcurrentRefreshes", counters_.maxConcurrentRefreshes);
    json.set("maxConcurrentRefreshesPerToken", counters_.maxConcurrentRefreshesPerToken);
    json.set("maxPresentationsPerRefreshToken", counters_.maxPresentationsPerRefreshToken);
    json.set("activeRefreshTokens", activeRefreshTokens());
    json.set("faultsServed", counters_.faultsServed);
    return json;
}

void StandinState::reset() {
    std::lock_guard lock(mutex_);
    forgetEverything();
}

void StandinState::waitUnlessShuttingDown(std::chrono::milliseconds duration) {
    std::unique_lock lock(mutex_);
    shutdownSignal_.wait_for(lock, duration, [this] { return shuttingDown_; });
}

void StandinState::shutdown() {
    {
        std::lock_guard lock(mutex_);
        shuttingDown_ = true;
    }
    shutdownSignal_.notify_all();
}

bool StandinState::clientAuthenticated(const StandinRequest& request) const {
    if (request.basicCredentials) {
        return request.basicCredentials->first == clientId_ && request.basicCredentials->second == clientSecret_;
    }
    return request.parameter("client_id") == clientId_ && request.parameter("client_secret") == clientSecret_;
}

std::optional<TokenFault> StandinState::takeFault(const std::string& grantType) {
    for (auto fault = faults_.begin(); fault != faults_.end(); ++fault) {
        if (fault->grantType && *fault->grantType != grantType) continue;
        TokenFault taken = *fault;
        if (--fault->remaining == 0) faults_.erase(fault);
        return taken;
    }
    return std::nullopt;
}

StandinAnswer StandinState::exchangeCode(const StandinRequest& request) {
    auto found = codes_.find(request.parameter("code"));
    if (found == codes_.end()) return StandinAnswer::oauthError(400, "invalid_grant", kAuthenticationFailure);
    // Single use: a failed exchange spends the code too.
    const PendingCode code = std::move(found->second);
    codes_.erase(found);

    if (request.parameter("redirect_uri") != code.redirectUri) {
        return StandinAnswer::oauthError(400, "invalid_grant", "redirect_uri mismatch");
    }
    if (!code.codeChallenge.empty() && pkceS256Challenge(request.parameter("code_verifier")) != code.codeChallenge) {
        ++counters_.pkceFailures;
        return StandinAnswer::oauthError(400, "invalid_grant", kInvalidCodeVerifier);
    }

    const std::uint64_t grantId = nextGrantId_++;
    Grant& grant = grants_[grantId];
    grant.userId = code.userId;
    grant.organizationId = code.organizationId;
    grant.scope = code.scope;
    grant.loginHost = code.loginHost;
    grant.hasRefreshToken = scopeGrantsRefreshToken(code.scope);
    const std::string accessToken = mintAccessToken(grantId);
    std::optional<std::string> refreshToken;
    if (grant.hasRefreshToken) refreshToken = mintRefreshToken(grantId);
    if (settings_.approvalLimit && grant.hasRefreshToken) enforceApprovalLimit(grant.userId);
    return tokenAnswer(grant, request, accessToken, refreshToken);
}

StandinAnswer StandinState::refresh(const StandinRequest& request, std::unique_lock<std::mutex>& lock) {
    const std::string refreshToken = request.parameter("refresh_token");
    beginRefresh(refreshToken);
    struct EndRefreshOnExit {
        StandinState& state;
        const std::string& refreshToken;
        ~EndRefreshOnExit() { state.endRefresh(refreshToken); }
    } endRefreshOnExit{*this, refreshToken};

    if (refreshesInFlight_.at(refreshToken) > 1) {
        return StandinAnswer::oauthError(400, "invalid_grant", kAlreadyProcessing);
    }
    if (settings_.refreshDelayMs > 0) {
        shutdownSignal_.wait_for(lock, std::chrono::milliseconds(settings_.refreshDelayMs),
                                 [this] { return shuttingDown_; });
    }
    return completeRefresh(request, refreshToken);
}

StandinAnswer StandinState::completeRefresh(const StandinRequest& request, const std::string& refreshToken) {
    auto record = refreshTokens_.find(refreshToken);
    if (record == refreshTokens_.end()) return StandinAnswer::oauthError(400, "invalid_grant", kExpiredToken);
    const std::uint64_t grantId = record->second.grantId;
    Grant& grant = grants_.at(grantId);
    if (record->second.retired) {
        ++counters_.retiredTokenPresented;
        revokeGrant(grant, kExpiredToken, true);
        return StandinAnswer::oauthError(400, "invalid_grant", kExpiredToken);
    }
    if (grant.revokedBecause) return StandinAnswer::oauthError(400, "invalid_grant", *grant.revokedBecause);
    if (auto user = users_.find(grant.userId); user != users_.end() && !user->second.active) {
        return StandinAnswer::oauthError(400, "invalid_grant", kInactiveUser);
    }

    std::optional<std::string> rotatedRefreshToken;
    if (settings_.rotation) {
        record->second.retired = true;
        rotatedRefreshToken = mintRefreshToken(grantId);
    }
    const std::string accessToken = mintAccessToken(grantId);
    return tokenAnswer(grant, request, accessToken, rotatedRefreshToken);
}

void StandinState::beginRefresh(const std::string& refreshToken) {
    const std::int64_t inFlightForToken = ++refreshesInFlight_[refreshToken];
    ++refreshesInFlightTotal_;
    counters_.maxConcurrentRefreshesPerToken = std::max(counters_.maxConcurrentRefreshesPerToken, inFlightForToken);
    counters_.maxConcurrentRefreshes = std::max(counters_.maxConcurrentRefreshes, refreshesInFlightTotal_);
}

void StandinState::endRefresh(const std::string& refreshToken) {
    if (--refreshesInFlight_.at(refreshToken) == 0) refreshesInFlight_.erase(refreshToken);
    --refreshesInFlightTotal_;
}

void StandinState::enforceApprovalLimit(const std::string& userId) {
    std::vector<Grant*> approvals;  // oldest first, as grants_ is ordered
    for (auto& [grantId, grant] : grants_) {
        if (grant.userId == userId && grant.hasRefreshToken && !grant.revokedBecause) approvals.push_back(&grant);
    }
    for (std::size_t oldest = 0; oldest + kApprovalsPerUser < approvals.size(); ++oldest) {
        revokeGrant(*approvals[oldest], kExpiredToken, true);
    }
}

void StandinState::revokeGrant(Grant& grant, const std::string& reason, bool includingAccessTokens) {
    if (!grant.revokedBecause) grant.revokedBecause = reason;
    if (!includingAccessTokens) return;
    for (const std::string& accessToken : grant.accessTokens) accessTokens_.at(accessToken).revoked = true;
}

std::string StandinState::mintAccessToken(std::uint64_t grantId) {
    Grant& grant = grants_.at(grantId);
    std::string accessToken = grant.organizationId.substr(0, kShortIdLength) + "!AQ" + randomTokenCharacters(108);
    accessTokens_[accessToken] = AccessTokenRecord{.grantId = grantId};
    grant.accessTokens.push_back(accessToken);
    return accessToken;
}

std::string StandinState::mintRefreshToken(std::uint64_t grantId) {
    std::string refreshToken = "5Aep861" + randomTokenCharacters(80);
    refreshTokens_[refreshToken] = RefreshTokenRecord{.grantId = grantId};
    grants_.at(grantId).refreshTokens.push_back(refreshToken);
    return refreshToken;
}

StandinAnswer StandinState::tokenAnswer(const Grant& grant, const StandinRequest& request,
                                        const std::string& accessToken,
                                        const std::optional<std::string>& refreshToken) const {
    const std::string id = settings_.identityUrl.empty()
                               ? "http://" + grant.loginHost + "/id/" + grant.organizationId + "/" + grant.userId
                               : settings_.identityUrl;
    const std::string issuedAt = millisecondsSinceEpoch();
    Poco::JSON::Object body;
    body.set("access_token", accessToken);
    if (refreshToken) body.set("refresh_token", *refreshToken);
    body.set("signature", hmacSha256Base64(clientSecret_, id + issuedAt));
    body.set("scope", grant.scope);
    body.set("instance_url", settings_.instanceUrl.empty() ? "http://" + request.host : settings_.instanceUrl);
    body.set("id", id);
    body.set("token_type", "Bearer");
    body.set("issued_at", issuedAt);
    return StandinAnswer::json(200, body);
}

std::int64_t StandinState::activeRefreshTokens() const {
    std::int64_t active = 0;
    for (const auto& [refreshToken, record] : refreshTokens_) {
        if (!record.retired && !grants_.at(record.grantId).revokedBecause) ++active;
    }
    return active;
}

void StandinState::forgetEverything() {
    const Identity identity = defaultIdentity();
    users_ = {{identity.userId, identity}};
    currentUserId_ = identity.userId;
    approveAuthorizations_ = true;
    settings_ = StandinSettings{};
    faults_.clear();
    codes_.clear();
    grants_.clear();
    refreshTokens_.clear();
    accessTokens_.clear();
    counters_ = Counters{};
    presentations_.clear();
}

}  // namespace bridge::standin
