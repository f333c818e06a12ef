#pragma once

#include <Poco/JSON/Object.h>

#include <string>

#include "HttpCalls.h"

namespace bridge::standin::test {

// A code verifier and its S256 challenge, computed independently of the stand-in (Python's hashlib).
inline const std::string kCodeVerifier = "bridge-standin-test-verifier-0123456789-abcdefghijklmnop";
inline const std::string kCodeChallenge = "uEMngI0CEjJLV74eLOhlEpFe7u4jTpBFUY-UuX0snXo";
inline const std::string kOtherCodeVerifier = "another-verifier-for-the-second-login-0123456789abcdefgh";
inline const std::string kRedirectUri = "http://localhost:8080/oauth/salesforce/callback";
inline const std::string kFullScope = "api refresh_token";

// Plays the bridge (and the admin's browser) against a stand-in, the way SALESFORCE.md describes the calls.
class StandinTestClient {
public:
    StandinTestClient(std::string baseUrl, std::string clientId, std::string clientSecret);

    const std::string& baseUrl() const { return baseUrl_; }

    HttpReply authorize(const HttpFields& overrides = {}, const HttpFields& headers = {}) const;
    // Authorizes with kCodeChallenge and returns the code of the redirect; throws if there is none.
    std::string authorizeForCode(const std::string& scope = kFullScope) const;
    HttpReply exchangeCode(const std::string& code, const std::string& verifier = kCodeVerifier,
                           const HttpFields& overrides = {}) const;
    // Authorize and exchange: the token endpoint's 200 answer, or a thrown std::runtime_error.
    Poco::JSON::Object::Ptr login(const std::string& scope = kFullScope) const;
    HttpReply refresh(const std::string& refreshToken, const HttpFields& overrides = {}) const;
    HttpReply revoke(const std::string& token, const std::string& path = "/services/oauth2/revoke") const;
    HttpReply identity(const std::string& idUrl, const std::string& accessToken) const;
    HttpReply control(const std::string& path, const std::string& json = "{}") const;
    Poco::JSON::Object::Ptr counters() const;

private:
    std::string baseUrl_;
    std::string clientId_;
    std::string clientSecret_;
};

}  // namespace bridge::standin::test
