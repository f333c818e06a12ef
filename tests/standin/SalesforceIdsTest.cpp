#include <gtest/gtest.h>

#include <stdexcept>

#include "standin/SalesforceIds.h"

namespace bridge::standin {
namespace {

TEST(SalesforceIdsTest, AppendsTheChecksumToFifteenCharacterIds) {
    // The pairs of SALESFORCE.md's example identity URL.
    EXPECT_EQ(toEighteenCharacterId("00Dxx0000001gPL"), "00Dxx0000001gPLEAY");
    EXPECT_EQ(toEighteenCharacterId("005xx000001SvYb"), "005xx000001SvYbAAK");
    EXPECT_EQ(toEighteenCharacterId("001000000000000"), "001000000000000AAA");
    EXPECT_EQ(toEighteenCharacterId("ABCDEABCDEABCDE"), "ABCDEABCDEABCDE555");
}

TEST(SalesforceIdsTest, RestoresTheCaseOfEighteenCharacterIdsFromTheirChecksum) {
    EXPECT_EQ(toEighteenCharacterId("00Dxx0000001gPLEAY"), "00Dxx0000001gPLEAY");
    EXPECT_EQ(toEighteenCharacterId("00DXX0000001GPLEAY"), "00Dxx0000001gPLEAY");
    EXPECT_EQ(toEighteenCharacterId("005xx000001svybaak"), "005xx000001SvYbAAK");
}

TEST(SalesforceIdsTest, RefusesWhatIsNotAnId) {
    EXPECT_THROW(toEighteenCharacterId(""), std::invalid_argument);
    EXPECT_THROW(toEighteenCharacterId("005xx000001SvY"), std::invalid_argument);
    EXPECT_THROW(toEighteenCharacterId("005xx000001SvYb-"), std::invalid_argument);
    EXPECT_THROW(toEighteenCharacterId("005xx000001SvY!AAK"), std::invalid_argument);
    EXPECT_THROW(toEighteenCharacterId("005xx000001SvYbAA9"), std::invalid_argument);  // 9 is no checksum character
    EXPECT_THROW(toEighteenCharacterId("000000000000000BAA"), std::invalid_argument);  // marks a digit upper case
}

}  // namespace
}  // namespace bridge::standin
