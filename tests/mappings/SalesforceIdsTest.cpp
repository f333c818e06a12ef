#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "mappings/SalesforceIds.h"

namespace bridge::mappings {
namespace {

struct IdPair {
    std::string_view shortId;
    std::string_view longId;
};

class SalesforceIdPairTest : public testing::TestWithParam<IdPair> {};

TEST_P(SalesforceIdPairTest, AppendsTheCaseSuffixToTheShortForm) {
    EXPECT_EQ(toSalesforceId18(GetParam().shortId), std::string(GetParam().longId));
}

TEST_P(SalesforceIdPairTest, KeepsTheLongFormAsItIs) {
    EXPECT_EQ(toSalesforceId18(GetParam().longId), std::string(GetParam().longId));
}

TEST_P(SalesforceIdPairTest, AcceptsTheLongFormWithALowerCaseSuffixAndWritesItUpperCase) {
    std::string lowerCaseSuffix(GetParam().longId);
    for (auto i = lowerCaseSuffix.size() - 3; i < lowerCaseSuffix.size(); ++i) {
        if (lowerCaseSuffix[i] >= 'A' && lowerCaseSuffix[i] <= 'Z') lowerCaseSuffix[i] += 'a' - 'A';
    }
    EXPECT_EQ(toSalesforceId18(lowerCaseSuffix), std::string(GetParam().longId));
}

TEST_P(SalesforceIdPairTest, BothFormsNameTheSameRecord) {
    EXPECT_TRUE(sameSalesforceId(GetParam().shortId, GetParam().longId));
    EXPECT_TRUE(sameSalesforceId(GetParam().longId, GetParam().shortId));
    EXPECT_TRUE(sameSalesforceId(GetParam().shortId, GetParam().shortId));
}

INSTANTIATE_TEST_SUITE_P(
    KnownIds, SalesforceIdPairTest,
    testing::Values(
        // Real ids.
        IdPair{"001A0000006Vm9r", "001A0000006Vm9rIAC"}, IdPair{"003A0000005QB3A", "003A0000005QB3AIAW"},
        IdPair{"005xx000001SvYb", "005xx000001SvYbAAK"}, IdPair{"00Dxx0000001gPL", "00Dxx0000001gPLEAY"},
        // Edges of the suffix alphabet: no upper-case letter is 'A', all five upper case is '5'.
        IdPair{"000000000000000", "000000000000000AAA"}, IdPair{"aaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaAAA"},
        IdPair{"AAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAA555"}, IdPair{"ZZZZZzzzzz00000", "ZZZZZzzzzz000005AA"},
        // Bit i is character i of the chunk: 'B' (bit 0) = 1, 'C' (bit 1) = 2, 'E' (bit 2) = 4, 'Q' (bit 4) = 16.
        IdPair{"Abcde0Bcde00Ccc", "Abcde0Bcde00CccBCE"}, IdPair{"abcdEaaaaa0000A", "abcdEaaaaa0000AQAQ"}));

TEST(SalesforceIds, RefusesALongFormWhoseSuffixIsNotOne) {
    for (const std::string_view id : {"001A0000006Vm9r999",     // '9' is outside the suffix alphabet
                                      "001A0000006Vm9r6AC",     // '6' likewise
                                      "001A0000006Vm9rIAD"}) {  // 'D' marks the digit '6' as upper case
        SCOPED_TRACE(id);
        EXPECT_EQ(toSalesforceId18(id), std::nullopt);
    }
}

struct CaseRestoration {
    std::string_view given;
    std::string_view canonical;
};

class SalesforceIdCaseTest : public testing::TestWithParam<CaseRestoration> {};

// The 18-character form is case-insensitive: its suffix restores the letter case of the first 15 characters.
TEST_P(SalesforceIdCaseTest, RestoresTheLetterCaseFromTheSuffix) {
    EXPECT_EQ(toSalesforceId18(GetParam().given), GetParam().canonical);
    EXPECT_TRUE(sameSalesforceId(GetParam().given, GetParam().canonical));
}

INSTANTIATE_TEST_SUITE_P(
    CaseInsensitiveLongForms, SalesforceIdCaseTest,
    testing::Values(CaseRestoration{"001A0000006VM9RIAC", "001A0000006Vm9rIAC"},
                    CaseRestoration{"001a0000006vm9riac", "001A0000006Vm9rIAC"},
                    CaseRestoration{"005XX000001SVYBAAK", "005xx000001SvYbAAK"},
                    // Another suffix is another, valid id: here all letters lower case but the 'V'.
                    CaseRestoration{"001A0000006Vm9rAAC", "001a0000006Vm9rAAC"},
                    CaseRestoration{"001a0000006vm9raaa", "001a0000006vm9rAAA"}));

TEST(SalesforceIds, RefusesOtherLengthsAndCharacters) {
    for (const std::string_view id : {
             "",
             "001A0000006Vm9",       // 14
             "001A0000006Vm9rI",     // 16
             "001A0000006Vm9rIA",    // 17
             "001A0000006Vm9rIACX",  // 19
             "001A0000006Vm9!", "001A0000006Vm9 ", " 001A0000006Vm9", "001A-000006Vm9r", "001A0000006Vm9rIA-",
             "001A0000006Vm9r IAC",
             "001A000006Vm9\xC3\xA9",  // 15 bytes, the last two a UTF-8 letter
         }) {
        SCOPED_TRACE(id);
        EXPECT_EQ(toSalesforceId18(id), std::nullopt);
    }
    EXPECT_EQ(toSalesforceId18(std::string_view("001A0000006Vm9\0", 15)), std::nullopt);
}

TEST(SalesforceIds, IsIdempotent) {
    for (const std::string_view id : {"001A0000006Vm9r", "00Dxx0000001gPL", "aBcDeFgHiJkLmNo"}) {
        SCOPED_TRACE(id);
        const auto once = toSalesforceId18(id);
        ASSERT_TRUE(once.has_value());
        EXPECT_EQ(toSalesforceId18(*once), once);
    }
}

TEST(SameSalesforceId, ComparesTheLongFormsIgnoringTheSuffixCase) {
    EXPECT_TRUE(sameSalesforceId("001A0000006Vm9rIAC", "001A0000006Vm9riac"));
    EXPECT_TRUE(sameSalesforceId("001A0000006Vm9r", "001A0000006Vm9riac"));
}

TEST(SameSalesforceId, TellsShortIdsThatDifferOnlyInCaseApart) {
    EXPECT_FALSE(sameSalesforceId("001A0000006Vm9r", "001a0000006Vm9r"));
    EXPECT_FALSE(sameSalesforceId("001A0000006Vm9r", "001a0000006Vm9rAAC"));
    EXPECT_FALSE(sameSalesforceId("005xx000001SvYb", "00Dxx0000001gPL"));
}

TEST(SameSalesforceId, IsFalseWhenEitherIdIsInvalid) {
    EXPECT_FALSE(sameSalesforceId("", ""));
    EXPECT_FALSE(sameSalesforceId("not-an-id", "not-an-id"));
    EXPECT_FALSE(sameSalesforceId("001A0000006Vm9rIAD", "001A0000006Vm9rIAD"));
    EXPECT_FALSE(sameSalesforceId("001A0000006Vm9r", "001A0000006Vm9rIAD"));
    EXPECT_FALSE(sameSalesforceId("001A0000006Vm9rX", "001A0000006Vm9r"));
}

}  // namespace
}  // namespace bridge::mappings
