#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>

#include "bridge/crypto/Secrets.h"
#include "bridge/salesforce/SalesforceClient.h"

namespace bridge {
namespace {

bool isUnreserved(char character) {
    return std::isalnum(static_cast<unsigned char>(character)) != 0 || character == '-' || character == '.' ||
           character == '_' || character == '~';
}

TEST(Pkce, ChallengeMatchesRfc7636AppendixB) {
    EXPECT_EQ(sha256Base64Url("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
              "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(Pkce, VerifierIsLongUnreservedAndFresh) {
    const SalesforceClient::Pkce pkce = SalesforceClient::makePkce();
    EXPECT_GE(pkce.verifier.size(), 43u);
    EXPECT_LE(pkce.verifier.size(), 128u);
    EXPECT_TRUE(std::all_of(pkce.verifier.begin(), pkce.verifier.end(), isUnreserved)) << pkce.verifier;
    EXPECT_EQ(pkce.challenge, sha256Base64Url(pkce.verifier));
    EXPECT_EQ(pkce.challenge.find('='), std::string::npos);
    EXPECT_NE(pkce.verifier, SalesforceClient::makePkce().verifier);
}

TEST(Pkce, AuthorizationUrlCarriesEveryValueEncoded) {
    SalesforceSettings settings;
    settings.clientId = "3MVG9&client=id";
    settings.sandboxLoginUrl = "https://test.salesforce.com/";
    settings.callbackUrl = "https://bridge.example.com/oauth/salesforce/callback";
    const SalesforceClient client(settings);
    EXPECT_EQ(client.authorizationUrl(Environment::Sandbox, "st ate/+", "the-challenge"),
              "https://test.salesforce.com/services/oauth2/authorize?response_type=code&client_id=3MVG9%26client%3Did"
              "&redirect_uri=https%3A%2F%2Fbridge.example.com%2Foauth%2Fsalesforce%2Fcallback&state=st%20ate%2F%2B"
              "&scope=api%20refresh_token&prompt=login&code_challenge=the-challenge"
              "&code_challenge_method=S256");
    EXPECT_EQ(client.authorizationUrl(Environment::Production, "s", "c")
                  .rfind("https://login.salesforce.com/services/oauth2/authorize?", 0),
              0u);
}

}  // namespace
}  // namespace bridge
