#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/crypto/SealedToken.h"

namespace bridge {

// The key list or the active key id is unusable. The message names the offending entry, never key material.
class TokenCipherConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A sealed token cannot be opened: unknown key id, tampered, or sealed for other associated data.
// The message never carries plaintext or key bytes.
class TokenCipherError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Seals tokens with AES-256-GCM before they rest anywhere (see SealedToken). New seals use the active key; every
// listed key still opens, so keys rotate by adding a new active one and resealing what needsResealing() names.
// The associated data (e.g. "org:1042:refresh") is authenticated, so a ciphertext only opens for the row it was
// sealed for. Immutable after construction, hence safe for concurrent use.
class TokenCipher {
public:
    // keys: "ID:BASE64(32 bytes),ID2:BASE64(32 bytes)"; the active key defaults to the first.
    static TokenCipher fromSpec(std::string_view keys, std::optional<std::string> activeKeyId = std::nullopt);

    TokenCipher(const TokenCipher&) = default;
    TokenCipher(TokenCipher&&) noexcept = default;
    TokenCipher& operator=(const TokenCipher&) = default;
    TokenCipher& operator=(TokenCipher&&) noexcept = default;
    ~TokenCipher();

    SealedToken seal(std::string_view plaintext, std::string_view associatedData) const;
    std::string open(const SealedToken& sealed, std::string_view associatedData) const;

    // True when the token was sealed under a key other than the active one.
    bool needsResealing(const SealedToken& sealed) const;
    const std::string& activeKeyId() const;

private:
    static constexpr std::size_t kKeyBytes = 32;

    struct Key {
        std::string id;
        std::array<unsigned char, kKeyBytes> bytes;
    };

    TokenCipher(std::vector<Key> keys, std::size_t activeIndex);
    const Key* findKey(std::string_view id) const;

    std::vector<Key> keys_;
    std::size_t activeIndex_;
};

}  // namespace bridge
