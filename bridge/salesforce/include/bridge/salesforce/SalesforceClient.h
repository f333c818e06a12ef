#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <string_view>

#include "bridge/salesforce/SalesforceIdentity.h"
#include "bridge/salesforce/SalesforceResponses.h"
#include "bridge/salesforce/SalesforceSettings.h"
#include "bridge/salesforce/SalesforceTransport.h"
#include "bridge/salesforce/TokenGrant.h"
#include "mappings/Vocabulary.h"

namespace bridge {

// Salesforce's OAuth endpoints as SALESFORCE.md describes them: the web server flow with PKCE, refresh, revoke and
// the identity URL. Holds no mutable state, so one client serves every thread. Tokens, codes, verifiers and the
// client secret never reach a log line, an exception or a failure.
class SalesforceClient {
public:
    struct Pkce {
        std::string verifier;   // 43 unreserved characters from 32 random bytes
        std::string challenge;  // base64url(SHA-256(verifier)), unpadded
    };
    static Pkce makePkce();

    explicit SalesforceClient(SalesforceSettings settings);

    // Where to send the admin's browser to log in; every query value percent-encoded.
    std::string authorizationUrl(Environment environment, std::string_view state, std::string_view codeChallenge) const;

    // A grant whose instance_url or identity URL SalesforceHosts does not trust is revoked and refused
    // (permanently, error "untrusted_url").
    TokenResult exchangeCode(Environment environment, std::string_view code, std::string_view codeVerifier) const;

    // An invalid_grant Salesforce's table does not list is asked once more and is permanent only if it repeats.
    // An untrusted instance_url in the answer is dropped (the stored one stays in use); the grant is kept, since
    // under rotation it carries the only valid refresh token.
    TokenResult refresh(Environment environment, std::string_view refreshToken) const;

    // Best effort, following up to two redirects on the login host (never to another host: the token would go
    // with it): true when Salesforce confirmed the revocation. Never throws for anything Salesforce or the network
    // does.
    bool revoke(Environment environment, std::string_view token) const;

    // An identity URL that SalesforceHosts does not trust is refused (permanently) without being called.
    IdentityResult fetchIdentity(std::string_view identityUrl, std::string_view accessToken) const;

private:
    const std::string& loginUrl(Environment environment) const;
    std::string endpoint(Environment environment, std::string_view path) const;
    // One POST to the token endpoint, classified.
    ClassifiedTokenResponse postToken(Environment environment, const std::string& formBody) const;
    void logTokenOutcome(std::string_view operation, Environment environment, const TokenResult& result) const;

    SalesforceSettings settings_;
    SalesforceHosts hosts_;
    SalesforceTransport transport_;
    std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace bridge
