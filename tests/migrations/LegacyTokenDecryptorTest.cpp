#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <memory>
#include <string>

#include "bridge/base/Config.h"
#include "bridge/crypto/Secrets.h"
#include "migrations/LegacyTokenDecryptor.h"

namespace bridge::migrations {
namespace {

const std::string kCurrentKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kOldKey = "F0E1D2C3B4A5968778695A4B3C2D1E0FF0E1D2C3B4A5968778695A4B3C2D1E0F";
const std::string kUnknownKey = "1111111111111111111111111111111111111111111111111111111111111111";
const std::string kToken = "5Aep861TRb.Kx9w_QbqzDlwGfOXq2B7gWf0ohHEjAzAtPzZ8qJ4v";

std::string bytesOfHex(const std::string& hex) {
    std::string bytes;
    for (std::size_t i = 0; i < hex.size(); i += 2)
        bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return bytes;
}

// What the legacy panel stored: base64(iv || AES-256-CBC-PKCS7(key, iv, plaintext)).
std::string legacyEncrypt(const std::string& keyHex, const std::string& plaintext) {
    const std::string key = bytesOfHex(keyHex);
    const std::string iv = randomBytes(16);
    std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> context(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    std::string out(plaintext.size() + 16, '\0');
    int written = 0;
    int finalWritten = 0;
    EVP_EncryptInit_ex(context.get(), EVP_aes_256_cbc(), nullptr, reinterpret_cast<const unsigned char*>(key.data()),
                       reinterpret_cast<const unsigned char*>(iv.data()));
    EVP_EncryptUpdate(context.get(), reinterpret_cast<unsigned char*>(out.data()), &written,
                      reinterpret_cast<const unsigned char*>(plaintext.data()), static_cast<int>(plaintext.size()));
    EVP_EncryptFinal_ex(context.get(), reinterpret_cast<unsigned char*>(out.data()) + written, &finalWritten);
    out.resize(static_cast<std::size_t>(written + finalWritten));
    return base64Encode(iv + out);
}

LegacyTokenDecryptor bothKeys() { return LegacyTokenDecryptor(kCurrentKey + "," + kOldKey); }

TEST(LegacyTokenDecryptorTest, OpensTokensUnderEitherKey) {
    const auto decryptor = bothKeys();
    EXPECT_EQ(decryptor.keyCount(), 2u);
    EXPECT_EQ(decryptor.decrypt(legacyEncrypt(kCurrentKey, kToken)), kToken);
    EXPECT_EQ(decryptor.decrypt(legacyEncrypt(kOldKey, kToken)), kToken);
}

TEST(LegacyTokenDecryptorTest, KeysMayBeSpacedAndInAnyLetterCase) {
    const LegacyTokenDecryptor decryptor(" " + kOldKey + " , " + kCurrentKey);
    EXPECT_EQ(decryptor.decrypt(legacyEncrypt(kCurrentKey, kToken)), kToken);
}

TEST(LegacyTokenDecryptorTest, ATokenUnderAKeyNobodyHasIsReportedAsSuch) {
    const auto decryptor = bothKeys();
    for (int attempt = 0; attempt < 50; ++attempt) {
        const auto result = decryptor.decryptOrExplain(legacyEncrypt(kUnknownKey, kToken));
        ASSERT_TRUE(std::holds_alternative<LegacyTokenFailure>(result));
        EXPECT_EQ(std::get<LegacyTokenFailure>(result), LegacyTokenFailure::NoKeyDecrypts);
    }
}

TEST(LegacyTokenDecryptorTest, ValidPaddingAroundSomethingThatIsNotATokenIsAWrongKey) {
    const auto decryptor = bothKeys();
    for (const std::string& garbage : {std::string("\x01\x02\xfe\xff", 4), std::string("has a space"),
                                       std::string("tab\there"), std::string("caf\xc3\xa9"), std::string()}) {
        EXPECT_EQ(decryptor.decryptOrExplain(legacyEncrypt(kCurrentKey, garbage)),
                  (std::variant<std::string, LegacyTokenFailure>(LegacyTokenFailure::NoKeyDecrypts)))
            << garbage;
    }
}

TEST(LegacyTokenDecryptorTest, TextThatIsNotStrictBase64IsReportedAsSuch) {
    const auto decryptor = bothKeys();
    const std::string valid = legacyEncrypt(kCurrentKey, kToken);
    for (const std::string& text : {std::string("not base64!"), valid.substr(0, valid.size() - 1), valid + "\n",
                                    std::string("ab-_cd-_ef-_gh-_"), std::string("%%%%")}) {
        const auto result = decryptor.decryptOrExplain(text);
        ASSERT_TRUE(std::holds_alternative<LegacyTokenFailure>(result)) << text;
        EXPECT_EQ(std::get<LegacyTokenFailure>(result), LegacyTokenFailure::NotBase64) << text;
    }
}

TEST(LegacyTokenDecryptorTest, Base64ThatIsTooShortForACiphertextDecryptsUnderNoKey) {
    const auto decryptor = bothKeys();
    EXPECT_EQ(std::get<LegacyTokenFailure>(decryptor.decryptOrExplain(base64Encode("only sixteen....."))),
              LegacyTokenFailure::NoKeyDecrypts);
    EXPECT_FALSE(decryptor.decrypt(base64Encode(std::string(40, 'x'))).has_value());
}

TEST(LegacyTokenDecryptorTest, RefusesKeysThatAreNot64HexCharactersWithoutEchoingThem) {
    EXPECT_THROW(LegacyTokenDecryptor(""), ConfigError);
    EXPECT_THROW(LegacyTokenDecryptor(kCurrentKey + ","), ConfigError);
    EXPECT_THROW(LegacyTokenDecryptor(kCurrentKey.substr(2)), ConfigError);
    try {
        LegacyTokenDecryptor(kCurrentKey + "," + kOldKey.substr(0, 62) + "zz");
        FAIL() << "a bad key was accepted";
    } catch (const ConfigError& error) {
        EXPECT_NE(std::string(error.what()).find("key 2"), std::string::npos);
        EXPECT_EQ(std::string(error.what()).find(kOldKey.substr(0, 16)), std::string::npos);
    }
}

TEST(LegacyTokenDecryptorTest, DescribesFailuresForTheSkipReport) {
    EXPECT_EQ(describeLegacyTokenFailure(LegacyTokenFailure::NotBase64), "token is not base64");
    EXPECT_EQ(describeLegacyTokenFailure(LegacyTokenFailure::NoKeyDecrypts), "no legacy key decrypts the token");
}

}  // namespace
}  // namespace bridge::migrations
