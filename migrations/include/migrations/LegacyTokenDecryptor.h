#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace bridge::migrations {

// Why a legacy refresh_token_enc could not be used.
enum class LegacyTokenFailure {
    NotBase64,      // not strict standard base64 with padding
    NoKeyDecrypts,  // under a key that was rotated away, or not a ciphertext at all
};

// The reason as the migrator reports it ("skipped connection of organization <id>: <reason>").
std::string_view describeLegacyTokenFailure(LegacyTokenFailure failure);

// Opens the legacy panel's refresh tokens: base64(iv || AES-256-CBC-PKCS7(key, iv, token)). Nothing in a row says
// which key sealed it, so every configured key is tried in order; a key is right only when the padding checks out
// and the result is what a Salesforce refresh token is, non-empty printable ASCII. Immutable, safe to share.
class LegacyTokenDecryptor {
public:
    // legacy.tokenKeys: 64 hex characters per key, comma separated, spaces around a key ignored. Throws
    // bridge::ConfigError (naming the position, never key material) for anything else, or for no key at all.
    explicit LegacyTokenDecryptor(std::string_view tokenKeys);
    LegacyTokenDecryptor(const LegacyTokenDecryptor&) = default;
    LegacyTokenDecryptor& operator=(const LegacyTokenDecryptor&) = default;
    ~LegacyTokenDecryptor();

    std::optional<std::string> decrypt(std::string_view base64Text) const;
    // The token, or why there is none.
    std::variant<std::string, LegacyTokenFailure> decryptOrExplain(std::string_view base64Text) const;

    std::size_t keyCount() const { return keys_.size(); }

private:
    using Key = std::array<unsigned char, 32>;

    std::optional<std::string> decryptWith(const Key& key, std::string_view ivAndCiphertext) const;

    std::vector<Key> keys_;
};

}  // namespace bridge::migrations
