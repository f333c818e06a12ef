#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

#include "bridge/crypto/Secrets.h"
#include "bridge/crypto/TokenCipher.h"

namespace bridge {
namespace {

constexpr std::string_view kAssociatedData = "org:1042:refresh";
constexpr std::string_view kToken = "5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrgUGj1KN9fakeRefreshToken";

std::string newKey() { return base64Encode(randomBytes(32)); }

std::string flipByte(const std::string& ciphertext, std::size_t index) {
    std::string raw = *base64Decode(ciphertext);
    raw[index] = static_cast<char>(raw[index] ^ 0x01);
    return base64Encode(raw);
}

class TokenCipherTest : public ::testing::Test {
protected:
    const std::string keyA_ = newKey();
    const std::string keyB_ = newKey();
    const TokenCipher cipher_ = TokenCipher::fromSpec("a:" + keyA_);
};

TEST_F(TokenCipherTest, SealedTokenOpensToThePlaintext) {
    const SealedToken sealed = cipher_.seal(kToken, kAssociatedData);
    EXPECT_EQ(sealed.keyId, "a");
    EXPECT_EQ(sealed.ciphertext.find(kToken), std::string::npos);
    EXPECT_EQ(base64Decode(sealed.ciphertext)->size(), 12 + kToken.size() + 16);
    EXPECT_EQ(cipher_.open(sealed, kAssociatedData), kToken);
}

TEST_F(TokenCipherTest, EmptyPlaintextRoundTrips) {
    EXPECT_EQ(cipher_.open(cipher_.seal("", kAssociatedData), kAssociatedData), "");
}

TEST_F(TokenCipherTest, EverySealUsesAFreshNonce) {
    EXPECT_NE(cipher_.seal(kToken, kAssociatedData).ciphertext, cipher_.seal(kToken, kAssociatedData).ciphertext);
}

TEST_F(TokenCipherTest, OtherKeyMaterialUnderTheSameIdDoesNotOpen) {
    const SealedToken sealed = cipher_.seal(kToken, kAssociatedData);
    const TokenCipher impostor = TokenCipher::fromSpec("a:" + keyB_);
    EXPECT_THROW(impostor.open(sealed, kAssociatedData), TokenCipherError);
}

TEST_F(TokenCipherTest, UnknownKeyIdDoesNotOpen) {
    SealedToken sealed = cipher_.seal(kToken, kAssociatedData);
    sealed.keyId = "retired";
    EXPECT_THROW(cipher_.open(sealed, kAssociatedData), TokenCipherError);
}

TEST_F(TokenCipherTest, TamperedNonceCiphertextOrTagDoesNotOpen) {
    const SealedToken sealed = cipher_.seal(kToken, kAssociatedData);
    const std::size_t lastByte = 12 + kToken.size() + 16 - 1;
    for (const std::size_t index :
         {std::size_t{0}, std::size_t{11}, std::size_t{12}, std::size_t{40}, lastByte - 15, lastByte}) {
        SCOPED_TRACE(index);
        EXPECT_THROW(cipher_.open({sealed.keyId, flipByte(sealed.ciphertext, index)}, kAssociatedData),
                     TokenCipherError);
    }
}

TEST_F(TokenCipherTest, TruncatedOrNonBase64CiphertextDoesNotOpen) {
    const SealedToken sealed = cipher_.seal(kToken, kAssociatedData);
    const std::string raw = *base64Decode(sealed.ciphertext);
    EXPECT_THROW(cipher_.open({"a", base64Encode(raw.substr(0, raw.size() - 1))}, kAssociatedData), TokenCipherError);
    EXPECT_THROW(cipher_.open({"a", base64Encode(raw.substr(0, 27))}, kAssociatedData), TokenCipherError);
    EXPECT_THROW(cipher_.open({"a", ""}, kAssociatedData), TokenCipherError);
    EXPECT_THROW(cipher_.open({"a", "not base64!"}, kAssociatedData), TokenCipherError);
}

TEST_F(TokenCipherTest, OtherAssociatedDataDoesNotOpen) {
    const SealedToken sealed = cipher_.seal(kToken, kAssociatedData);
    EXPECT_THROW(cipher_.open(sealed, "org:1043:refresh"), TokenCipherError);
    EXPECT_THROW(cipher_.open(sealed, "org:1042:access"), TokenCipherError);
    EXPECT_THROW(cipher_.open(sealed, ""), TokenCipherError);
}

TEST_F(TokenCipherTest, OpenErrorsNeverCarryThePlaintextOrKey) {
    const SealedToken sealed = cipher_.seal(kToken, kAssociatedData);
    try {
        cipher_.open(sealed, "org:1043:refresh");
        FAIL() << "opened under other associated data";
    } catch (const TokenCipherError& error) {
        const std::string message = error.what();
        EXPECT_EQ(message.find(kToken), std::string::npos);
        EXPECT_EQ(message.find(keyA_), std::string::npos);
    }
}

TEST_F(TokenCipherTest, RotationKeepsOldKeysOpeningAndSealsUnderTheActiveOne) {
    const SealedToken underA = cipher_.seal(kToken, kAssociatedData);
    const TokenCipher rotated = TokenCipher::fromSpec("a:" + keyA_ + ",b:" + keyB_, "b");
    EXPECT_EQ(rotated.activeKeyId(), "b");
    EXPECT_EQ(rotated.open(underA, kAssociatedData), kToken);
    EXPECT_TRUE(rotated.needsResealing(underA));

    const SealedToken underB = rotated.seal(kToken, kAssociatedData);
    EXPECT_EQ(underB.keyId, "b");
    EXPECT_FALSE(rotated.needsResealing(underB));
    EXPECT_EQ(rotated.open(underB, kAssociatedData), kToken);
    EXPECT_THROW(cipher_.open(underB, kAssociatedData), TokenCipherError);
    EXPECT_FALSE(cipher_.needsResealing(underA));
}

TEST_F(TokenCipherTest, ActiveKeyDefaultsToTheFirst) {
    const TokenCipher cipher = TokenCipher::fromSpec(" b:" + keyB_ + " , a:" + keyA_);
    EXPECT_EQ(cipher.activeKeyId(), "b");
    EXPECT_EQ(cipher.seal(kToken, kAssociatedData).keyId, "b");
}

TEST_F(TokenCipherTest, CopiesAndMovesStayUsable) {
    TokenCipher copy = cipher_;
    const TokenCipher moved = std::move(copy);
    EXPECT_EQ(moved.open(cipher_.seal(kToken, kAssociatedData), kAssociatedData), kToken);
}

TEST_F(TokenCipherTest, ConcurrentSealsAndOpensAgree) {
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int thread = 0; thread < 4; ++thread) {
        threads.emplace_back([&, thread] {
            const std::string associatedData = "org:" + std::to_string(thread) + ":refresh";
            for (int round = 0; round < 200; ++round) {
                const std::string plaintext = "token-" + std::to_string(thread) + "-" + std::to_string(round);
                if (cipher_.open(cipher_.seal(plaintext, associatedData), associatedData) != plaintext) ++failures;
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), 0);
}

struct MalformedSpec {
    std::string name;
    std::string spec;
    std::optional<std::string> activeKeyId;
};

void PrintTo(const MalformedSpec& malformed, std::ostream* out) { *out << malformed.name; }

class MalformedSpecTest : public ::testing::TestWithParam<MalformedSpec> {};

TEST_P(MalformedSpecTest, IsRefusedWithoutEchoingKeyMaterial) {
    const MalformedSpec& malformed = GetParam();
    try {
        TokenCipher::fromSpec(malformed.spec, malformed.activeKeyId);
        FAIL() << "accepted " << malformed.name;
    } catch (const TokenCipherConfigError& error) {
        const std::string message = error.what();
        EXPECT_FALSE(message.empty());
        for (std::size_t colon = malformed.spec.find(':'); colon != std::string::npos;
             colon = malformed.spec.find(':', colon + 1)) {
            const std::string material = malformed.spec.substr(colon + 1, 12);
            if (material.size() >= 8) {
                EXPECT_EQ(message.find(material), std::string::npos) << message;
            }
        }
    }
}

const std::string kGoodKey = base64Encode(std::string(32, '\x5a'));

INSTANTIATE_TEST_SUITE_P(
    TokenCipher, MalformedSpecTest,
    ::testing::Values(
        MalformedSpec{"Empty", "", std::nullopt}, MalformedSpec{"Blank", "  ", std::nullopt},
        MalformedSpec{"NoColon", "a" + kGoodKey, std::nullopt}, MalformedSpec{"EmptyId", ":" + kGoodKey, std::nullopt},
        MalformedSpec{"BadBase64", "a:" + kGoodKey.substr(0, 20) + "!!" + kGoodKey.substr(22), std::nullopt},
        MalformedSpec{"ShortKey", "a:" + base64Encode(std::string(16, '\x5a')), std::nullopt},
        MalformedSpec{"LongKey", "a:" + base64Encode(std::string(33, '\x5a')), std::nullopt},
        MalformedSpec{"DuplicateId", "a:" + kGoodKey + ",a:" + base64Encode(std::string(32, 'q')), std::nullopt},
        MalformedSpec{"EmptyEntry", "a:" + kGoodKey + ",,b:" + kGoodKey, std::nullopt},
        MalformedSpec{"TrailingComma", "a:" + kGoodKey + ",", std::nullopt},
        MalformedSpec{"UnknownActiveId", "a:" + kGoodKey, std::string("b")}),
    [](const ::testing::TestParamInfo<MalformedSpec>& info) { return info.param.name; });

}  // namespace
}  // namespace bridge
