#include <gtest/gtest.h>

#include "bridge/salesforce/SalesforceResponses.h"

namespace bridge {
namespace {

using Kind = SalesforceFailure::Kind;

enum class Verdict { Granted, Permanent, Transient, Unrecognised };

struct Row {
    std::string name;
    int status;
    std::string body;
    Verdict verdict;
};

void PrintTo(const Row& row, std::ostream* out) { *out << row.name; }

std::string refusal(std::string_view error, std::string_view description) {
    return R"({"error":")" + std::string(error) + R"(","error_description":")" + std::string(description) + R"("})";
}

class ClassifyTokenResponseTest : public ::testing::TestWithParam<Row> {};

TEST_P(ClassifyTokenResponseTest, ReadsAsSalesforceMeantIt) {
    const Row& row = GetParam();
    const ClassifiedTokenResponse classified = classifyTokenResponse(row.status, row.body);
    EXPECT_EQ(classified.unrecognisedRefusal, row.verdict == Verdict::Unrecognised);
    if (row.verdict == Verdict::Granted) {
        ASSERT_TRUE(classified.result.succeeded()) << classified.result.failure().reason();
        return;
    }
    ASSERT_FALSE(classified.result.succeeded());
    const Kind expected = row.verdict == Verdict::Transient ? Kind::Transient : Kind::PermanentRefusal;
    EXPECT_EQ(classified.result.failure().kind, expected) << classified.result.failure().reason();
    EXPECT_FALSE(classified.result.failure().error.empty());
}

const std::string kGrant =
    R"({"access_token":"00Dxx!AQ","refresh_token":"5Aep861","instance_url":"https://acme.my.salesforce.com",)"
    R"("id":"https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SvYbAAK","token_type":"Bearer",)"
    R"("issued_at":"1700000000000","scope":"api refresh_token"})";

INSTANTIATE_TEST_SUITE_P(
    SalesforceResponses, ClassifyTokenResponseTest,
    ::testing::Values(
        Row{"Granted", 200, kGrant, Verdict::Granted},
        Row{"GrantedWithoutRefreshToken", 200, R"({"access_token":"00Dxx!AQ","instance_url":"https://x"})",
            Verdict::Granted},
        Row{"ExpiredToken", 400, refusal("invalid_grant", "expired access/refresh token"), Verdict::Permanent},
        Row{"AuthenticationFailure", 400, refusal("invalid_grant", "authentication failure"), Verdict::Permanent},
        Row{"InactiveUser", 400, refusal("invalid_grant", "inactive user"), Verdict::Permanent},
        Row{"InvalidClient", 400, refusal("invalid_client", "invalid client credentials"), Verdict::Permanent},
        Row{"InvalidClientOtherWords", 400, refusal("invalid_client", "client identifier invalid"), Verdict::Permanent},
        Row{"AlreadyProcessing", 400, refusal("invalid_grant", "token request is already being processed"),
            Verdict::Transient},
        Row{"UnlistedInvalidGrant", 400, refusal("invalid_grant", "ip restricted"), Verdict::Unrecognised},
        Row{"InvalidGrantWithoutDescription", 400, R"({"error":"invalid_grant"})", Verdict::Unrecognised},
        Row{"OtherOAuthError", 400, refusal("invalid_request", "missing grant type"), Verdict::Transient},
        Row{"BadRequestNotJson", 400, "<html>Bad Request</html>", Verdict::Transient},
        Row{"BadRequestWithoutError", 400, R"({"message":"no"})", Verdict::Transient},
        Row{"Unauthorized", 401, refusal("invalid_grant", "expired access/refresh token"), Verdict::Transient},
        Row{"TooManyRequests", 429, "slow down", Verdict::Transient},
        Row{"ServerError", 500, refusal("invalid_grant", "expired access/refresh token"), Verdict::Transient},
        Row{"ServiceUnavailable", 503, "", Verdict::Transient},
        Row{"OkNotJson", 200, "<html>maintenance</html>", Verdict::Transient},
        Row{"OkEmpty", 200, "", Verdict::Transient}, Row{"OkJsonArray", 200, R"(["access_token"])", Verdict::Transient},
        Row{"OkWithoutAccessToken", 200, R"({"instance_url":"https://x"})", Verdict::Transient},
        Row{"OkWithNonStringAccessToken", 200, R"({"access_token":42})", Verdict::Transient}),
    [](const ::testing::TestParamInfo<Row>& info) { return info.param.name; });

TEST(SalesforceResponses, GrantCarriesEveryField) {
    const ClassifiedTokenResponse classified = classifyTokenResponse(200, kGrant);
    ASSERT_TRUE(classified.result.succeeded());
    const TokenGrant& grant = classified.result.value();
    EXPECT_EQ(grant.accessToken, "00Dxx!AQ");
    EXPECT_EQ(grant.refreshToken, "5Aep861");
    EXPECT_EQ(grant.instanceUrl, "https://acme.my.salesforce.com");
    EXPECT_EQ(grant.identityUrl, "https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SvYbAAK");
    EXPECT_EQ(grant.issuedAtMs, 1700000000000);
}

TEST(SalesforceResponses, RefreshAnswerWithoutRefreshTokenKeepsItAbsent) {
    const ClassifiedTokenResponse classified = classifyTokenResponse(200, R"({"access_token":"a"})");
    ASSERT_TRUE(classified.result.succeeded());
    EXPECT_EQ(classified.result.value().refreshToken, std::nullopt);
    EXPECT_GT(classified.result.value().issuedAtMs, 0);
}

TEST(SalesforceResponses, RefusalReasonIsErrorColonDescription) {
    const ClassifiedTokenResponse classified =
        classifyTokenResponse(400, refusal("invalid_grant", "expired access/refresh token"));
    EXPECT_EQ(classified.result.failure().reason(), "invalid_grant: expired access/refresh token");
    EXPECT_EQ((SalesforceFailure{Kind::Transient, "timeout", ""}).reason(), "timeout");
}

TEST(SalesforceResponses, IdentityIsRead) {
    const IdentityResult identity = readIdentityResponse(
        200, R"({"user_id":"005xx000001SvYbAAK","organization_id":"00Dxx0000001gPLEAY","username":"sa@acme.com",)"
             R"("email":"sa@acme.com","display_name":"Service Account","active":true,"user_type":"STANDARD"})");
    ASSERT_TRUE(identity.succeeded());
    EXPECT_EQ(identity.value().userId, "005xx000001SvYbAAK");
    EXPECT_EQ(identity.value().organizationId, "00Dxx0000001gPLEAY");
    EXPECT_EQ(identity.value().username, "sa@acme.com");
    EXPECT_EQ(identity.value().email, "sa@acme.com");
    EXPECT_EQ(identity.value().displayName, "Service Account");
    EXPECT_TRUE(identity.value().active);
    EXPECT_EQ(identity.value().userType, "STANDARD");
}

TEST(SalesforceResponses, IdentityFailuresAreClassified) {
    EXPECT_EQ(readIdentityResponse(403, "Bad_OAuth_Token").failure().kind, Kind::PermanentRefusal);
    EXPECT_EQ(readIdentityResponse(401, "").failure().kind, Kind::PermanentRefusal);
    EXPECT_EQ(readIdentityResponse(500, "").failure().kind, Kind::Transient);
    EXPECT_EQ(readIdentityResponse(200, "not json").failure().kind, Kind::Transient);
    EXPECT_EQ(readIdentityResponse(200, R"({"username":"x"})").failure().kind, Kind::Transient);
}

}  // namespace
}  // namespace bridge
