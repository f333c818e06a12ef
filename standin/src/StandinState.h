#pragma once

#include <Poco/JSON/Object.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "Identity.h"
#include "StandinAnswer.h"
#include "StandinRequest.h"
#include "StandinSettings.h"
#include "TokenFault.h"

namespace bridge::standin {

// Everything the stand-in knows (users, codes, tokens, settings, faults, counters) and the Salesforce endpoints
// that act on it. Thread-safe: every member function takes the one mutex.
class StandinState {
public:
    StandinState(std::string clientId, std::string clientSecret);

    StandinAnswer authorize(const StandinRequest& request);
    // Blocks for the configured refresh delay on a refresh.
    StandinAnswer token(const StandinRequest& request);
    // `redirected`: the request came to /services/oauth2/revoke/redirected, which always revokes.
    StandinAnswer revoke(const StandinRequest& request, bool redirected);
    StandinAnswer identity(const StandinRequest& request, const std::string& organizationId, const std::string& userId);

    // Throws std::invalid_argument for a malformed id.
    Identity setIdentity(const IdentityUpdate& update);
    Identity currentIdentity() const;
    void setAuthorizeDecision(bool approve);
    // Returns how many faulted calls are queued in all.
    int queueFault(const TokenFault& fault);
    // Revokes the refresh tokens of the matching users (every one when both are nullopt); returns how many chains.
    int expireRefreshTokens(const std::optional<std::string>& userId, const std::optional<std::string>& organizationId);
    // False for an unknown user.
    bool deactivateUser(const std::string& userId);
    bool markPasswordChanged(const std::string& userId);
    StandinSettings updateSettings(const StandinSettingsUpdate& update);
    Poco::JSON::Object counters() const;
    void reset();

    // Sleeps for `duration`, or less once shutdown() is called.
    void waitUnlessShuttingDown(std::chrono::milliseconds duration);
    void shutdown();

private:
    struct PendingCode {
        std::string redirectUri;
        std::string codeChallenge;
        std::string userId;
        std::string organizationId;
        std::string scope;
        std::string loginHost;
    };

    // One approval: a code exchange and every token descended from it.
    struct Grant {
        std::string userId;
        std::string organizationId;
        std::string scope;
        std::string loginHost;
        bool hasRefreshToken = false;
        std::optional<std::string> revokedBecause;  // the invalid_grant description a refresh then answers
        std::vector<std::string> refreshTokens;     // the current one last; the others are retired
        std::vector<std::string> accessTokens;
    };

    struct RefreshTokenRecord {
        std::uint64_t grantId = 0;
        bool retired = false;
    };

    struct AccessTokenRecord {
        std::uint64_t grantId = 0;
        bool revoked = false;
    };

    struct Counters {
        std::int64_t authorizeRequests = 0;
        std::map<std::string, std::int64_t> authorizeRequestsByHost;
        std::int64_t codeExchanges = 0;
        std::int64_t pkceFailures = 0;
        std::int64_t refreshCalls = 0;
        std::map<std::string, std::int64_t> refreshCallsByOrganization;
        std::map<std::string, std::int64_t> refreshCallsByUser;
        std::int64_t revocations = 0;
        std::int64_t retiredTokenPresented = 0;
        std::int64_t maxConcurrentRefreshes = 0;
        std::int64_t maxConcurrentRefreshesPerToken = 0;
        // How often the most presented refresh token was presented in all (faulted calls too): with rotation on, a
        // client that never races itself and never loses a rotated token keeps this at 1.
        std::int64_t maxPresentationsPerRefreshToken = 0;
        std::int64_t faultsServed = 0;
    };

    bool clientAuthenticated(const StandinRequest& request) const;
    std::optional<TokenFault> takeFault(const std::string& grantType);
    StandinAnswer exchangeCode(const StandinRequest& request);
    StandinAnswer refresh(const StandinRequest& request, std::unique_lock<std::mutex>& lock);
    StandinAnswer completeRefresh(const StandinRequest& request, const std::string& refreshToken);
    void beginRefresh(const std::string& refreshToken);
    void endRefresh(const std::string& refreshToken);
    void enforceApprovalLimit(const std::string& userId);
    void revokeGrant(Grant& grant, const std::string& reason, bool includingAccessTokens);
    std::string mintAccessToken(std::uint64_t grantId);
    std::string mintRefreshToken(std::uint64_t grantId);
    StandinAnswer tokenAnswer(const Grant& grant, const StandinRequest& request, const std::string& accessToken,
                              const std::optional<std::string>& refreshToken) const;
    std::int64_t activeRefreshTokens() const;
    void forgetEverything();

    const std::string clientId_;
    const std::string clientSecret_;

    mutable std::mutex mutex_;
    std::condition_variable shutdownSignal_;
    bool shuttingDown_ = false;

    std::map<std::string, Identity> users_;
    std::string currentUserId_;
    bool approveAuthorizations_ = true;
    StandinSettings settings_;
    std::deque<TokenFault> faults_;

    std::unordered_map<std::string, PendingCode> codes_;
    std::map<std::uint64_t, Grant> grants_;  // ordered oldest first
    std::uint64_t nextGrantId_ = 1;
    std::unordered_map<std::string, RefreshTokenRecord> refreshTokens_;
    std::unordered_map<std::string, AccessTokenRecord> accessTokens_;

    // Refresh requests being handled, per presented refresh token; they outlive reset().
    std::unordered_map<std::string, std::int64_t> refreshesInFlight_;
    std::int64_t refreshesInFlightTotal_ = 0;

    Counters counters_;
    std::unordered_map<std::string, std::int64_t> presentations_;  // per refresh token, for the counter above
};

}  // namespace bridge::standin
