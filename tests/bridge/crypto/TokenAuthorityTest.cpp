#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

#include "bridge/base/Error.h"
#include "bridge/crypto/Secrets.h"
#include "bridge/crypto/TokenAuthority.h"

namespace bridge {
namespace {

using std::chrono::seconds;

constexpr std::string_view kSecret = "a-test-signing-secret-of-reasonable-length";

std::int64_t secondsFromNow(std::int64_t offset) {
    return std::chrono::duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch()).count() + offset;
}

// A JWT assembled by hand, so that tests can say anything a forger could.
std::string craftToken(std::string_view headerJson, std::string_view payloadJson, const EVP_MD* digest = EVP_sha256(),
                       std::string_view secret = kSecret) {
    const std::string signedPart = base64UrlEncode(headerJson) + "." + base64UrlEncode(payloadJson);
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int macLength = 0;
    HMAC(digest, secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(signedPart.data()), signedPart.size(), mac.data(), &macLength);
    return signedPart + "." + base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac.data()), macLength));
}

std::string validPayload(std::string_view role = "support", std::string_view extra = "") {
    return R"({"sub":"alice","role":")" + std::string(role) + R"(","exp":)" + std::to_string(secondsFromNow(600)) +
           std::string(extra) + "}";
}

constexpr std::string_view kHs256Header = R"({"alg":"HS256","typ":"JWT"})";

void expectRejected(const TokenAuthority& authority, const std::string& token) {
    try {
        authority.verify(token);
        ADD_FAILURE() << "accepted " << token;
    } catch (const Error& error) {
        EXPECT_EQ(error.code(), ErrorCode::Unauthenticated);
        if (token.size() > 8) {
            EXPECT_EQ(std::string(error.what()).find(token), std::string::npos) << "message echoes the token";
        }
    }
}

class TokenAuthorityTest : public ::testing::Test {
protected:
    const TokenAuthority authority_{std::string(kSecret)};
};

TEST_F(TokenAuthorityTest, EachRoleHasItsWireName) {
    for (const Role role : {Role::Support, Role::OrgAdmin, Role::SyncEngine})
        EXPECT_EQ(parseRole(roleName(role)), role);
    EXPECT_EQ(roleName(Role::OrgAdmin), "org-admin");
    EXPECT_EQ(roleName(Role::SyncEngine), "sync-engine");
    EXPECT_EQ(parseRole("admin"), std::nullopt);
    EXPECT_EQ(parseRole("Support"), std::nullopt);
}

TEST_F(TokenAuthorityTest, IssuedTokensVerifyForEveryRole) {
    const Principal support{"support-desk", Role::Support, {}};
    const Principal orgAdmin{"alice", Role::OrgAdmin, {1042, 7}};
    const Principal syncEngine{"sync", Role::SyncEngine, {}};
    for (const Principal& principal : {support, orgAdmin, syncEngine}) {
        const Principal verified = authority_.verify(authority_.issue(principal, seconds(60)));
        EXPECT_EQ(verified.subject, principal.subject);
        EXPECT_EQ(verified.role, principal.role);
        EXPECT_EQ(verified.organizations, principal.organizations);
    }
}

TEST_F(TokenAuthorityTest, IssuedTokensCarryTheStandardHs256Header) {
    const std::string token = authority_.issue({"alice", Role::Support, {}}, seconds(60));
    EXPECT_EQ(token.substr(0, token.find('.')), base64UrlEncode(kHs256Header));
}

TEST_F(TokenAuthorityTest, OrgAdminWithoutOrganizationsGetsAnEmptyList) {
    const Principal verified = authority_.verify(authority_.issue({"bob", Role::OrgAdmin, {}}, seconds(60)));
    EXPECT_TRUE(verified.organizations.empty());
}

TEST_F(TokenAuthorityTest, HandCraftedHs256TokenWithOtherHeaderSpellingVerifies) {
    const Principal verified =
        authority_.verify(craftToken(R"({"typ":"JWT", "alg":"HS256"})", validPayload("org-admin", R"(,"orgs":[5])")));
    EXPECT_EQ(verified.subject, "alice");
    EXPECT_EQ(verified.organizations, std::vector<std::int64_t>{5});
}

TEST_F(TokenAuthorityTest, ExpiredTokenIsRejected) {
    expectRejected(authority_, authority_.issue({"alice", Role::Support, {}}, seconds(-1)));
    expectRejected(authority_, craftToken(kHs256Header, R"({"sub":"a","role":"support","exp":)" +
                                                            std::to_string(secondsFromNow(-5)) + "}"));
}

TEST_F(TokenAuthorityTest, TokenWithoutUsableExpIsRejected) {
    expectRejected(authority_, craftToken(kHs256Header, R"({"sub":"alice","role":"support"})"));
    expectRejected(authority_, craftToken(kHs256Header, R"({"sub":"alice","role":"support","exp":"tomorrow"})"));
    expectRejected(authority_, craftToken(kHs256Header, R"({"sub":"alice","role":"support","exp":true})"));
}

TEST_F(TokenAuthorityTest, TokenWithoutSubjectOrRoleIsRejected) {
    const std::string exp = std::to_string(secondsFromNow(600));
    expectRejected(authority_, craftToken(kHs256Header, R"({"role":"support","exp":)" + exp + "}"));
    expectRejected(authority_, craftToken(kHs256Header, R"({"sub":"","role":"support","exp":)" + exp + "}"));
    expectRejected(authority_, craftToken(kHs256Header, R"({"sub":"alice","exp":)" + exp + "}"));
}

TEST_F(TokenAuthorityTest, BadSignatureIsRejected) {
    const std::string token = authority_.issue({"alice", Role::Support, {}}, seconds(60));
    expectRejected(TokenAuthority("another secret"), token);
    expectRejected(authority_, craftToken(kHs256Header, validPayload(), EVP_sha256(), "another secret"));
    expectRejected(authority_, token.substr(0, token.rfind('.') + 1));

    // The payload swapped for a more powerful one under the original signature.
    const std::string signature = token.substr(token.rfind('.'));
    const std::string forged = base64UrlEncode(kHs256Header) + "." +
                               base64UrlEncode(validPayload("org-admin", R"(,"orgs":[1,2,3])")) + signature;
    expectRejected(authority_, forged);
}

TEST_F(TokenAuthorityTest, AlgNoneIsRejected) {
    const std::string header = base64UrlEncode(R"({"alg":"none","typ":"JWT"})");
    expectRejected(authority_, header + "." + base64UrlEncode(validPayload()) + ".");
    // Even with a signature that would be right for HS256.
    const std::string signedToken = craftToken(kHs256Header, validPayload());
    expectRejected(authority_, header + signedToken.substr(signedToken.find('.')));
}

TEST_F(TokenAuthorityTest, OtherAlgorithmsAreRejected) {
    expectRejected(authority_, craftToken(R"({"alg":"HS512","typ":"JWT"})", validPayload(), EVP_sha512()));
    expectRejected(authority_, craftToken(R"({"alg":"HS384","typ":"JWT"})", validPayload(), EVP_sha384()));
    expectRejected(authority_, craftToken(R"({"alg":"RS256","typ":"JWT"})", validPayload()));
    expectRejected(authority_, craftToken(R"({"typ":"JWT"})", validPayload()));
    expectRejected(authority_, craftToken(R"({"alg":["HS256"]})", validPayload()));
}

TEST_F(TokenAuthorityTest, UnknownRoleIsRejected) {
    expectRejected(authority_, craftToken(kHs256Header, validPayload("admin")));
    expectRejected(authority_, craftToken(kHs256Header, validPayload("Support")));
}

TEST_F(TokenAuthorityTest, OrgAdminNeedsAnIntegerArrayOfOrganizations) {
    expectRejected(authority_, craftToken(kHs256Header, validPayload("org-admin")));
    expectRejected(authority_, craftToken(kHs256Header, validPayload("org-admin", R"(,"orgs":1042)")));
    expectRejected(authority_, craftToken(kHs256Header, validPayload("org-admin", R"(,"orgs":["1042"])")));
    expectRejected(authority_, craftToken(kHs256Header, validPayload("org-admin", R"(,"orgs":[1042.5])")));
    expectRejected(authority_, craftToken(kHs256Header, validPayload("org-admin", R"(,"orgs":[true])")));
    expectRejected(authority_,
                   craftToken(kHs256Header, validPayload("org-admin", R"(,"orgs":[18446744073709551615])")));
}

// Support and the sync engine reach every organization: a list in their token would read as a limit nothing
// enforces, so such a token is neither issued nor accepted.
TEST_F(TokenAuthorityTest, SupportAndSyncEngineTokensNameNoOrganizations) {
    EXPECT_THROW(authority_.issue({"desk", Role::Support, {1042}}, seconds(60)), std::invalid_argument);
    EXPECT_THROW(authority_.issue({"sync", Role::SyncEngine, {1042}}, seconds(60)), std::invalid_argument);
    for (const std::string role : {"support", "sync-engine"}) {
        SCOPED_TRACE(role);
        expectRejected(authority_, craftToken(kHs256Header, validPayload(role, R"(,"orgs":[1042])")));
        expectRejected(authority_, craftToken(kHs256Header, validPayload(role, R"(,"orgs":[])")));
        const std::string issued =
            authority_.issue({"x", role == "support" ? Role::Support : Role::SyncEngine, {}}, seconds(60));
        const std::string payload =
            *base64UrlDecode(issued.substr(issued.find('.') + 1, issued.rfind('.') - issued.find('.') - 1));
        EXPECT_EQ(payload.find("orgs"), std::string::npos) << payload;
    }
}

TEST_F(TokenAuthorityTest, GarbageIsRejected) {
    for (const std::string garbage :
         {"", ".", "..", "abc", "a.b", "a.b.c", "a.b.c.d", "Bearer xyz", "eyJhbGciOiJIUzI1NiJ9.e30", "!!!.???.***"}) {
        expectRejected(authority_, garbage);
    }
    expectRejected(authority_, craftToken(kHs256Header, "not json"));
    expectRejected(authority_, craftToken(kHs256Header, "[1,2]"));
    expectRejected(authority_, craftToken("not json", validPayload()));
    const std::string token = authority_.issue({"alice", Role::Support, {}}, seconds(60));
    expectRejected(authority_, token + ".");
    expectRejected(authority_, " " + token);
}

TEST(TokenAuthority, RefusesAnEmptySecret) { EXPECT_THROW(TokenAuthority(""), std::invalid_argument); }

}  // namespace
}  // namespace bridge
