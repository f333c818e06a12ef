#include <gtest/gtest.h>

#include "bridge/crypto/Secrets.h"

namespace bridge {
namespace {

TEST(Secrets, ConstantTimeEqualsComparesContentAndLength) {
    EXPECT_TRUE(constantTimeEquals("same bytes", "same bytes"));
    EXPECT_TRUE(constantTimeEquals("", ""));
    EXPECT_FALSE(constantTimeEquals("same bytes", "same bytez"));
    EXPECT_FALSE(constantTimeEquals("short", "short and longer"));
    EXPECT_FALSE(constantTimeEquals("", "x"));
    EXPECT_TRUE(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
    EXPECT_FALSE(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(Secrets, RandomBytesHaveTheAskedSizeAndDiffer) {
    EXPECT_EQ(randomBytes(0).size(), 0u);
    const std::string first = randomBytes(32);
    EXPECT_EQ(first.size(), 32u);
    EXPECT_NE(first, randomBytes(32));
}

TEST(Secrets, Base64MatchesRfc4648Vectors) {
    const std::pair<std::string, std::string> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [bytes, text] : vectors) {
        EXPECT_EQ(base64Encode(bytes), text);
        EXPECT_EQ(base64Decode(text), bytes);
        std::string unpadded = text;
        while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
        EXPECT_EQ(base64UrlEncode(bytes), unpadded);
        EXPECT_EQ(base64UrlDecode(unpadded), bytes);
    }
}

TEST(Secrets, Base64UsesEachAlphabet) {
    const std::string bytes = "\xfb\xff\xbf";
    EXPECT_EQ(base64Encode(bytes), "+/+/");
    EXPECT_EQ(base64UrlEncode(bytes), "-_-_");
    EXPECT_EQ(base64UrlDecode("-_-_"), bytes);
    EXPECT_EQ(base64Decode("-_-_"), std::nullopt);
    EXPECT_EQ(base64UrlDecode("+/+/"), std::nullopt);
}

TEST(Secrets, Base64DecodingIsStrict) {
    EXPECT_EQ(base64Decode("Zm9v YmFy"), std::nullopt);  // whitespace
    EXPECT_EQ(base64Decode("Zg"), std::nullopt);         // padding missing
    EXPECT_EQ(base64Decode("Zg="), std::nullopt);        // padding short
    EXPECT_EQ(base64Decode("Z==="), std::nullopt);       // too much padding
    EXPECT_EQ(base64Decode("Zh=="), std::nullopt);       // unused bits set: a second spelling of "f"
    EXPECT_EQ(base64Decode("Zg==Zg=="), std::nullopt);   // padding inside
    EXPECT_EQ(base64UrlDecode("Zg=="), std::nullopt);    // the URL form has no padding
    EXPECT_EQ(base64UrlDecode("Z"), std::nullopt);       // no byte ends on a single character
}

TEST(Secrets, Sha256MatchesFips180Vector) {
    EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256Base64Url("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
}

}  // namespace
}  // namespace bridge
