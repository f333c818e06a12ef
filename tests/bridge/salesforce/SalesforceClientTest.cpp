#include <Poco/Net/AcceptCertificateHandler.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/URI.h>
#include <gtest/gtest.h>

#include <chrono>

#include "SelfSignedHttpsServer.h"
#include "bridge/salesforce/SalesforceClient.h"
#include "bridge/salesforce/SalesforceHosts.h"
#include "bridge/salesforce/SalesforceTransport.h"
#include "testsupport/StandinProcess.h"

namespace bridge {
namespace {

using namespace std::chrono_literals;
using Kind = SalesforceFailure::Kind;
using testsupport::StandinFault;
using testsupport::StandinProcess;

constexpr std::string_view kCallbackUrl = "http://localhost:8080/oauth/salesforce/callback";

std::string queryParameter(const std::string& url, const std::string& name) {
    for (const auto& [key, value] : Poco::URI(url).getQueryParameters()) {
        if (key == name) return value;
    }
    return {};
}

StandinFault refreshFault(std::string kind, int count) {
    StandinFault fault;
    fault.kind = std::move(kind);
    fault.count = count;
    fault.grant = "refresh_token";
    return fault;
}

StandinFault unlistedInvalidGrant(int count) {
    StandinFault fault = refreshFault("invalidGrant", count);
    fault.description = "ip restricted";
    return fault;
}

// The secrets a failure must never show.
void expectNoSecretIn(const SalesforceFailure& failure, std::initializer_list<std::string_view> secrets) {
    for (const std::string_view secret : secrets) {
        EXPECT_EQ(failure.reason().find(secret), std::string::npos) << failure.reason();
    }
}

class SalesforceClientTest : public ::testing::Test {
protected:
    SalesforceSettings settings(std::chrono::milliseconds timeout = 5s) const {
        SalesforceSettings settings;
        settings.clientId = standin_.clientId();
        settings.clientSecret = standin_.clientSecret();
        settings.productionLoginUrl = standin_.baseUrl();
        settings.sandboxLoginUrl = standin_.baseUrl();
        settings.callbackUrl = kCallbackUrl;
        settings.timeout = timeout;
        return settings;
    }

    // Plays the admin's login: the code Salesforce hands the callback.
    std::string authorize(const SalesforceClient::Pkce& pkce) {
        const std::string location =
            standin_.followAuthorization(client_.authorizationUrl(Environment::Production, "state-1", pkce.challenge));
        EXPECT_EQ(queryParameter(location, "state"), "state-1");
        return queryParameter(location, "code");
    }

    TokenGrant connect() {
        const SalesforceClient::Pkce pkce = SalesforceClient::makePkce();
        const TokenResult result = client_.exchangeCode(Environment::Production, authorize(pkce), pkce.verifier);
        if (!result.succeeded()) throw std::runtime_error("login failed: " + result.failure().reason());
        return result.value();
    }

    StandinProcess standin_;
    const SalesforceClient client_{settings()};
};

TEST_F(SalesforceClientTest, CodeExchangeWithPkceGrantsTokensAndIdentityReads) {
    testsupport::StandinIdentity serviceAccount;
    serviceAccount.username = "service@acme.example";
    serviceAccount.email = "ops@acme.example";
    serviceAccount.displayName = "Sync Service";
    const Poco::JSON::Object::Ptr expected = standin_.setIdentity(serviceAccount);
    const SalesforceClient::Pkce pkce = SalesforceClient::makePkce();
    const TokenResult result = client_.exchangeCode(Environment::Production, authorize(pkce), pkce.verifier);

    ASSERT_TRUE(result.succeeded()) << result.failure().reason();
    const TokenGrant& grant = result.value();
    EXPECT_FALSE(grant.accessToken.empty());
    ASSERT_TRUE(grant.refreshToken.has_value());
    EXPECT_FALSE(grant.instanceUrl.empty());
    EXPECT_GT(grant.issuedAtMs, 0);

    const IdentityResult identity = client_.fetchIdentity(grant.identityUrl, grant.accessToken);
    ASSERT_TRUE(identity.succeeded()) << identity.failure().reason();
    EXPECT_EQ(identity.value().userId, expected->getValue<std::string>("userId"));
    EXPECT_EQ(identity.value().organizationId, expected->getValue<std::string>("organizationId"));
    EXPECT_EQ(identity.value().username, "service@acme.example");
    EXPECT_EQ(identity.value().email, "ops@acme.example");
    EXPECT_EQ(identity.value().displayName, "Sync Service");
    EXPECT_TRUE(identity.value().active);
    EXPECT_EQ(identity.value().userId.size(), 18u);
    EXPECT_EQ(standin_.counter("codeExchanges"), 1);
}

TEST_F(SalesforceClientTest, IdentityWithARefusedAccessTokenIsPermanent) {
    const TokenGrant grant = connect();
    const IdentityResult identity = client_.fetchIdentity(grant.identityUrl, "not-an-access-token");
    ASSERT_FALSE(identity.succeeded());
    EXPECT_EQ(identity.failure().kind, Kind::PermanentRefusal) << identity.failure().reason();
}

TEST_F(SalesforceClientTest, WrongVerifierIsRefusedPermanently) {
    const SalesforceClient::Pkce pkce = SalesforceClient::makePkce();
    const std::string code = authorize(pkce);
    const std::string otherVerifier = SalesforceClient::makePkce().verifier;
    const TokenResult result = client_.exchangeCode(Environment::Production, code, otherVerifier);

    ASSERT_FALSE(result.succeeded());
    EXPECT_EQ(result.failure().kind, Kind::PermanentRefusal) << result.failure().reason();
    EXPECT_EQ(result.failure().error, "invalid_grant");
    expectNoSecretIn(result.failure(), {code, otherVerifier, pkce.verifier, standin_.clientSecret()});
    EXPECT_EQ(standin_.counter("pkceFailures"), 1);
}

TEST_F(SalesforceClientTest, WrongClientSecretIsRefusedPermanently) {
    SalesforceSettings wrongSecret = settings();
    wrongSecret.clientSecret = "not-the-secret";
    const TokenGrant grant = connect();
    const TokenResult result = SalesforceClient(wrongSecret).refresh(Environment::Production, *grant.refreshToken);
    ASSERT_FALSE(result.succeeded());
    EXPECT_EQ(result.failure().kind, Kind::PermanentRefusal);
    EXPECT_EQ(result.failure().error, "invalid_client");
}

TEST_F(SalesforceClientTest, RefreshMintsANewAccessToken) {
    const TokenGrant grant = connect();
    const TokenResult result = client_.refresh(Environment::Sandbox, *grant.refreshToken);
    ASSERT_TRUE(result.succeeded()) << result.failure().reason();
    EXPECT_FALSE(result.value().accessToken.empty());
    EXPECT_NE(result.value().accessToken, grant.accessToken);
    EXPECT_EQ(result.value().refreshToken, std::nullopt);
    EXPECT_EQ(standin_.counter("refreshCalls"), 1);
}

TEST_F(SalesforceClientTest, RefreshUnderRotationAnswersANewRefreshToken) {
    testsupport::StandinSettingsChange rotation;
    rotation.rotation = true;
    standin_.settings(rotation);
    const TokenGrant grant = connect();
    const TokenResult result = client_.refresh(Environment::Production, *grant.refreshToken);
    ASSERT_TRUE(result.succeeded()) << result.failure().reason();
    ASSERT_TRUE(result.value().refreshToken.has_value());
    EXPECT_NE(*result.value().refreshToken, *grant.refreshToken);
}

TEST_F(SalesforceClientTest, ExpiredRefreshTokenIsRefusedPermanently) {
    const TokenGrant grant = connect();
    EXPECT_EQ(standin_.expireRefreshTokens(), 1);
    const TokenResult result = client_.refresh(Environment::Production, *grant.refreshToken);
    ASSERT_FALSE(result.succeeded());
    EXPECT_EQ(result.failure().kind, Kind::PermanentRefusal);
    EXPECT_EQ(result.failure().reason(), "invalid_grant: expired access/refresh token");
    expectNoSecretIn(result.failure(), {*grant.refreshToken, standin_.clientSecret()});
    EXPECT_EQ(standin_.counter("refreshCalls"), 1);
}

class SalesforceClientFaultTest : public SalesforceClientTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(SalesforceClientFaultTest, IsTransientAndLeavesTheGrantUsable) {
    const TokenGrant grant = connect();
    standin_.injectFault(GetParam(), 1, "refresh_token");
    const TokenResult faulted = client_.refresh(Environment::Production, *grant.refreshToken);
    ASSERT_FALSE(faulted.succeeded());
    EXPECT_EQ(faulted.failure().kind, Kind::Transient) << faulted.failure().reason();
    expectNoSecretIn(faulted.failure(), {*grant.refreshToken, standin_.clientSecret()});

    const TokenResult next = client_.refresh(Environment::Production, *grant.refreshToken);
    EXPECT_TRUE(next.succeeded()) << next.failure().reason();
}

INSTANTIATE_TEST_SUITE_P(SalesforceClient, SalesforceClientFaultTest,
                         ::testing::Values("status500", "nonJson", "drop", "processing"));

TEST_F(SalesforceClientTest, HangIsCutAtTheTimeout) {
    const SalesforceClient impatient(settings(500ms));
    const TokenGrant grant = connect();
    StandinFault hang = refreshFault("hang", 1);
    hang.hangMs = 5000;
    standin_.injectFault(hang);

    const auto started = std::chrono::steady_clock::now();
    const TokenResult result = impatient.refresh(Environment::Production, *grant.refreshToken);
    const auto elapsed = std::chrono::steady_clock::now() - started;

    ASSERT_FALSE(result.succeeded());
    EXPECT_EQ(result.failure().kind, Kind::Transient);
    EXPECT_EQ(result.failure().error, "timeout");
    EXPECT_LT(elapsed, 800ms);
    EXPECT_GE(elapsed, 450ms);
}

TEST_F(SalesforceClientTest, UnrecognisedRefusalThatDoesNotRepeatIsRetriedToSuccess) {
    const TokenGrant grant = connect();
    standin_.injectFault(unlistedInvalidGrant(1));
    const TokenResult result = client_.refresh(Environment::Production, *grant.refreshToken);
    EXPECT_TRUE(result.succeeded()) << result.failure().reason();
    EXPECT_EQ(standin_.counter("refreshCalls"), 2);
}

TEST_F(SalesforceClientTest, UnrecognisedRefusalThatRepeatsIsPermanent) {
    const TokenGrant grant = connect();
    standin_.injectFault(unlistedInvalidGrant(2));
    const TokenResult result = client_.refresh(Environment::Production, *grant.refreshToken);
    ASSERT_FALSE(result.succeeded());
    EXPECT_EQ(result.failure().kind, Kind::PermanentRefusal);
    EXPECT_EQ(result.failure().reason(), "invalid_grant: ip restricted");
    EXPECT_EQ(standin_.counter("refreshCalls"), 2);
}

TEST_F(SalesforceClientTest, UnrecognisedRefusalFollowedByATransientOneIsTransient) {
    const TokenGrant grant = connect();
    standin_.injectFault(unlistedInvalidGrant(1));
    standin_.injectFault("status500", 1, "refresh_token");
    const TokenResult result = client_.refresh(Environment::Production, *grant.refreshToken);
    ASSERT_FALSE(result.succeeded());
    EXPECT_EQ(result.failure().kind, Kind::Transient);
}

TEST_F(SalesforceClientTest, RevokeFollowsTheSandboxRedirect) {
    testsupport::StandinSettingsChange revokeRedirect;
    revokeRedirect.revokeRedirect = true;
    standin_.settings(revokeRedirect);
    const TokenGrant grant = connect();
    EXPECT_TRUE(client_.revoke(Environment::Sandbox, *grant.refreshToken));
    EXPECT_EQ(standin_.counter("revocations"), 1);

    const TokenResult afterwards = client_.refresh(Environment::Sandbox, *grant.refreshToken);
    ASSERT_FALSE(afterwards.succeeded());
    EXPECT_EQ(afterwards.failure().kind, Kind::PermanentRefusal);
}

// The token is in the revoke request's body: a redirect to another host would hand it over.
TEST_F(SalesforceClientTest, RevokeDoesNotFollowARedirectToAnotherHost) {
    Poco::Net::ServerSocket elsewhere(Poco::Net::SocketAddress("127.0.0.1", 0));  // never answers
    testsupport::StandinSettingsChange redirectAway;
    redirectAway.revokeRedirect = true;
    redirectAway.revokeRedirectBase = "http://127.0.0.1:" + std::to_string(elsewhere.address().port());
    standin_.settings(redirectAway);
    const TokenGrant grant = connect();
    const auto started = std::chrono::steady_clock::now();
    EXPECT_FALSE(client_.revoke(Environment::Sandbox, *grant.refreshToken));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 1s);  // nothing waited on the other host
    EXPECT_EQ(standin_.counter("revocations"), 0);
    EXPECT_FALSE(elsewhere.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ));  // nothing connected to it
}

TEST_F(SalesforceClientTest, CodeExchangeNamingAHostOffSalesforceIsRefusedAndRevoked) {
    for (const auto& [instanceUrl, identityUrl] : std::vector<std::pair<std::string, std::string>>{
             {"https://evil.example", ""},
             {"", "https://evil.example/id/00D000000000001AAA/005000000000001AAA"},
             {"https://salesforce.com.evil.example", ""}}) {
        SCOPED_TRACE(instanceUrl + identityUrl);
        testsupport::StandinSettingsChange hostile;
        hostile.instanceUrl = instanceUrl;
        hostile.identityUrl = identityUrl;
        standin_.settings(hostile);
        const std::int64_t revocations = standin_.counter("revocations");
        const SalesforceClient::Pkce pkce = SalesforceClient::makePkce();
        const TokenResult result = client_.exchangeCode(Environment::Production, authorize(pkce), pkce.verifier);
        ASSERT_FALSE(result.succeeded());
        EXPECT_EQ(result.failure().kind, Kind::PermanentRefusal);
        EXPECT_EQ(result.failure().error, "untrusted_url");
        EXPECT_EQ(standin_.counter("revocations"), revocations + 1);
    }
}

TEST_F(SalesforceClientTest, IdentityUrlOffSalesforceIsNeverCalled) {
    const TokenGrant grant = connect();
    for (const std::string url : {"https://evil.example/id/00D/005", "https://acme.my.salesforce.com.evil.example/id",
                                  "ftp://login.salesforce.com/id/00D/005", "not a url"}) {
        const IdentityResult identity = client_.fetchIdentity(url, grant.accessToken);
        ASSERT_FALSE(identity.succeeded()) << url;
        EXPECT_EQ(identity.failure().error, "untrusted_url") << url;
        EXPECT_EQ(identity.failure().reason().find(grant.accessToken), std::string::npos);
    }
}

// A refresh answer's refresh token may be the only valid one (rotation): the grant is kept, its instance_url not.
TEST_F(SalesforceClientTest, RefreshNamingAnInstanceOffSalesforceKeepsTheGrantButNotTheUrl) {
    const TokenGrant grant = connect();
    testsupport::StandinSettingsChange hostile;
    hostile.instanceUrl = "https://evil.example";
    standin_.settings(hostile);
    const TokenResult refreshed = client_.refresh(Environment::Production, *grant.refreshToken);
    ASSERT_TRUE(refreshed.succeeded()) << refreshed.failure().reason();
    EXPECT_FALSE(refreshed.value().accessToken.empty());
    EXPECT_TRUE(refreshed.value().instanceUrl.empty());
}

TEST(SalesforceHostsTest, HttpsOnSalesforceDomainsAndLoopbackOnlyWhenTheLoginUrlIsLoopback) {
    const auto domains = SalesforceHosts::parseDomains(SalesforceHosts::kDefaultDomains);
    const SalesforceHosts production(domains, {"https://login.salesforce.com", "https://test.salesforce.com"});
    for (const std::string trusted : {"https://acme.my.salesforce.com", "https://login.salesforce.com/id/00D/005",
                                      "https://na1.salesforce.com", "https://acme--uat.sandbox.my.salesforce.com",
                                      "https://acme.lightning.force.com", "https://SALESFORCE.COM"}) {
        EXPECT_TRUE(production.trusts(trusted)) << trusted;
    }
    for (const std::string refused :
         {"http://acme.my.salesforce.com", "https://evil.example", "https://salesforce.com.evil.example",
          "https://evilsalesforce.com", "https://user:pw@acme.my.salesforce.com", "http://127.0.0.1:8080",
          "https://localhost/id", "", "acme.my.salesforce.com", "javascript:alert(1)"}) {
        EXPECT_FALSE(production.trusts(refused)) << refused;
    }
    const SalesforceHosts demo(domains, {"http://127.0.0.1:7001", "http://localhost:7001"});
    EXPECT_TRUE(demo.trusts("http://127.0.0.1:7001/id/00D/005"));
    EXPECT_TRUE(demo.trusts("http://localhost:9999"));
    EXPECT_FALSE(demo.trusts("http://10.0.0.1"));
    const SalesforceHosts myDomain(SalesforceHosts::parseDomains(" force.com , ,.salesforce.com"),
                                   {"https://acme.example-login.net"});
    EXPECT_TRUE(myDomain.trusts("https://acme.example-login.net/id/x/y"));
    EXPECT_TRUE(myDomain.trusts("https://x.salesforce.com"));
    EXPECT_FALSE(myDomain.trusts("https://other.example-login.net"));

    EXPECT_TRUE(SalesforceHosts::sameOrigin("https://test.salesforce.com/services/oauth2/revoke",
                                            "https://test.salesforce.com/services/oauth2/revoke/x"));
    EXPECT_FALSE(SalesforceHosts::sameOrigin("https://test.salesforce.com/a", "https://cs1.salesforce.com/a"));
    EXPECT_FALSE(SalesforceHosts::sameOrigin("https://test.salesforce.com/a", "http://test.salesforce.com/a"));
    EXPECT_FALSE(SalesforceHosts::sameOrigin("https://test.salesforce.com/a", "https://test.salesforce.com:8443/a"));
}

TEST_F(SalesforceClientTest, RevokeOfAnUnknownTokenIsBestEffort) {
    EXPECT_FALSE(client_.revoke(Environment::Production, "never-issued"));
    EXPECT_EQ(standin_.counter("revocations"), 0);
}

TEST_F(SalesforceClientTest, PlainHttpToAHostThatIsNotLoopbackIsNeverSent) {
    SalesforceSettings remote = settings();
    remote.productionLoginUrl = "http://example.invalid";
    const SalesforceClient client(remote);

    const auto started = std::chrono::steady_clock::now();
    const TokenResult result = client.refresh(Environment::Production, "refresh-token-value");
    EXPECT_LT(std::chrono::steady_clock::now() - started, 50ms);
    ASSERT_FALSE(result.succeeded());
    EXPECT_EQ(result.failure().kind, Kind::Transient);
    EXPECT_EQ(result.failure().error, "insecure_url");
    expectNoSecretIn(result.failure(), {"refresh-token-value", standin_.clientSecret()});

    EXPECT_FALSE(client.revoke(Environment::Production, "refresh-token-value"));
    const IdentityResult identity = client.fetchIdentity("http://example.invalid/id/00D/005", "access-token-value");
    ASSERT_FALSE(identity.succeeded());
    EXPECT_EQ(identity.failure().error, "untrusted_url");  // refused before the transport is asked
}

TEST_F(SalesforceClientTest, RefusedConnectionIsTransient) {
    std::uint16_t closedPort = 0;
    {
        const Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
        closedPort = probe.address().port();
    }
    SalesforceSettings nowhere = settings();
    nowhere.productionLoginUrl = "http://127.0.0.1:" + std::to_string(closedPort);
    const TokenResult result = SalesforceClient(nowhere).refresh(Environment::Production, "refresh-token-value");
    ASSERT_FALSE(result.succeeded());
    EXPECT_EQ(result.failure().kind, Kind::Transient);
    EXPECT_EQ(result.failure().error, "connection_failed");
}

TEST_F(SalesforceClientTest, HostNamesAreLookedUpWithinTheDeadline) {
    // "localhost" is a name, not an address: it goes through the bounded lookup, then the exchange as usual.
    SalesforceSettings byName = settings(2s);
    byName.productionLoginUrl = "http://localhost:" + std::to_string(Poco::URI(standin_.baseUrl()).getPort());
    const TokenGrant grant = connect();
    const TokenResult refreshed = SalesforceClient(byName).refresh(Environment::Production, *grant.refreshToken);
    EXPECT_TRUE(refreshed.succeeded()) << refreshed.failure().reason();

    SalesforceSettings unknown = settings(2s);
    unknown.productionLoginUrl = "https://no-such-host.invalid";
    const TokenResult failed = SalesforceClient(unknown).refresh(Environment::Production, *grant.refreshToken);
    ASSERT_FALSE(failed.succeeded());
    EXPECT_EQ(failed.failure().kind, Kind::Transient);
}

TEST(SalesforceTransportDeadline, TlsHandshakeThatNeverCompletesIsCutAtTheTimeout) {
    // The kernel completes the TCP handshake from the listen backlog; nothing ever answers the TLS hello.
    const Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
    const SalesforceTransport transport(500ms);
    const auto started = std::chrono::steady_clock::now();
    const auto result = transport.send(
        {"POST", "https://127.0.0.1:" + std::to_string(silent.address().port()) + "/services/oauth2/token", "", ""});
    const auto elapsed = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(result.succeeded());
    EXPECT_EQ(result.failure().kind, SalesforceFailure::Kind::Transient);
    EXPECT_GE(elapsed, 450ms);
    EXPECT_LT(elapsed, 900ms);
}

TEST(SalesforceClientTls, CertificateNoCaVouchesForIsRefused) {
    const SelfSignedHttpsServer server;
    const Poco::URI serverUri(server.baseUrl());

    // Control: a client that skips verification is answered.
    Poco::Net::Context::Params trustingParams;
    trustingParams.verificationMode = Poco::Net::Context::VERIFY_NONE;
    const Poco::Net::Context::Ptr trusting = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, trustingParams);
    Poco::Net::HTTPSClientSession session(serverUri.getHost(), serverUri.getPort(), trusting);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/");
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    session.receiveResponse(response);
    ASSERT_EQ(response.getStatus(), Poco::Net::HTTPResponse::HTTP_OK);

    // A process-wide handler that waves every certificate through (Poco's sample setup) must not weaken the client.
    Poco::Net::SSLManager::instance().initializeClient(nullptr, new Poco::Net::AcceptCertificateHandler(false),
                                                       trusting);
    SalesforceSettings settings;
    settings.productionLoginUrl = server.baseUrl();
    settings.timeout = 5s;
    const TokenResult result = SalesforceClient(settings).refresh(Environment::Production, "refresh-token-value");
    ASSERT_FALSE(result.succeeded());
    EXPECT_EQ(result.failure().kind, Kind::Transient);
    EXPECT_EQ(result.failure().error, "tls_failed");
    EXPECT_NE(result.failure().description.find("certificate verify failed"), std::string::npos)
        << result.failure().reason();
}

}  // namespace
}  // namespace bridge
