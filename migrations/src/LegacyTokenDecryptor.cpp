#include "migrations/LegacyTokenDecryptor.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <memory>

#include "bridge/base/Config.h"
#include "bridge/crypto/OpenSslAlgorithms.h"
#include "bridge/crypto/Secrets.h"

namespace bridge::migrations {

namespace {

constexpr std::size_t kIvBytes = 16;
constexpr std::size_t kBlockBytes = 16;

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string_view trimSpaces(std::string_view text) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    return text;
}

bool isRefreshTokenText(std::string_view text) {
    if (text.empty()) return false;
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x21 || byte > 0x7E) return false;
    }
    return true;
}

}  // namespace

std::string_view describeLegacyTokenFailure(LegacyTokenFailure failure) {
    switch (failure) {
        case LegacyTokenFailure::NotBase64: return "token is not base64";
        case LegacyTokenFailure::NoKeyDecrypts: return "no legacy key decrypts the token";
    }
    return "unknown token failure";
}

LegacyTokenDecryptor::LegacyTokenDecryptor(std::string_view tokenKeys) {
    std::size_t position = 0;
    while (true) {
        ++position;
        const std::size_t comma = tokenKeys.find(',');
        const std::string_view entry = trimSpaces(tokenKeys.substr(0, comma));
        if (entry.size() != 2 * Key{}.size()) {
            throw ConfigError("legacy.tokenKeys: key " + std::to_string(position) +
                              " is not 64 hexadecimal characters");
        }
        Key key{};
        for (std::size_t i = 0; i < key.size(); ++i) {
            const int high = hexValue(entry[2 * i]);
            const int low = hexValue(entry[2 * i + 1]);
            if (high < 0 || low < 0) {
                throw ConfigError("legacy.tokenKeys: key " + std::to_string(position) +
                                  " is not 64 hexadecimal characters");
            }
            key[i] = static_cast<unsigned char>(high * 16 + low);
        }
        keys_.push_back(key);
        if (comma == std::string_view::npos) break;
        tokenKeys.remove_prefix(comma + 1);
    }
}

LegacyTokenDecryptor::~LegacyTokenDecryptor() {
    for (auto& key : keys_) OPENSSL_cleanse(key.data(), key.size());
}

std::optional<std::string> LegacyTokenDecryptor::decrypt(std::string_view base64Text) const {
    auto result = decryptOrExplain(base64Text);
    if (auto* token = std::get_if<std::string>(&result)) return std::move(*token);
    return std::nullopt;
}

std::variant<std::string, LegacyTokenFailure> LegacyTokenDecryptor::decryptOrExplain(
    std::string_view base64Text) const {
    const auto bytes = base64Decode(base64Text);
    if (!bytes) return LegacyTokenFailure::NotBase64;
    const bool shapedLikeCiphertext = bytes->size() >= kIvBytes + kBlockBytes && bytes->size() % kBlockBytes == 0;
    if (shapedLikeCiphertext) {
        for (const auto& key : keys_) {
            if (auto token = decryptWith(key, *bytes)) return std::move(*token);
        }
    }
    return LegacyTokenFailure::NoKeyDecrypts;
}

std::optional<std::string> LegacyTokenDecryptor::decryptWith(const Key& key, std::string_view ivAndCiphertext) const {
    const std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> context(EVP_CIPHER_CTX_new(),
                                                                                  &EVP_CIPHER_CTX_free);
    if (!context) throw std::bad_alloc();
    const auto* iv = reinterpret_cast<const unsigned char*>(ivAndCiphertext.data());
    const auto* ciphertext = iv + kIvBytes;
    const int ciphertextBytes = static_cast<int>(ivAndCiphertext.size() - kIvBytes);
    if (EVP_DecryptInit_ex(context.get(), openssl::aes256Cbc(), nullptr, key.data(), iv) != 1) {
        throw std::runtime_error("legacy token decryption: AES-256-CBC is not available");
    }
    std::string plaintext(static_cast<std::size_t>(ciphertextBytes) + kBlockBytes, '\0');
    int written = 0;
    int finalWritten = 0;
    auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
    const bool paddingOk = EVP_DecryptUpdate(context.get(), out, &written, ciphertext, ciphertextBytes) == 1 &&
                           EVP_DecryptFinal_ex(context.get(), out + written, &finalWritten) == 1;
    const auto plaintextBytes = static_cast<std::size_t>(written + finalWritten);
    if (paddingOk && isRefreshTokenText(std::string_view(plaintext).substr(0, plaintextBytes))) {
        plaintext.resize(plaintextBytes);
        return plaintext;
    }
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return std::nullopt;
}

}  // namespace bridge::migrations
