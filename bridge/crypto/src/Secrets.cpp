#include "bridge/crypto/Secrets.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <climits>
#include <cstdint>
#include <stdexcept>

#include "bridge/crypto/OpenSslAlgorithms.h"

namespace bridge {
namespace {

constexpr std::uint8_t kNotInAlphabet = 0xFF;

struct Base64Alphabet {
    std::string_view symbols;
    std::array<std::uint8_t, 256> values;  // symbol -> its 6-bit value, kNotInAlphabet for the rest
};

constexpr Base64Alphabet makeAlphabet(std::string_view symbols) {
    Base64Alphabet alphabet{symbols, {}};
    alphabet.values.fill(kNotInAlphabet);
    for (std::size_t value = 0; value < symbols.size(); ++value) {
        alphabet.values[static_cast<std::uint8_t>(symbols[value])] = static_cast<std::uint8_t>(value);
    }
    return alphabet;
}

constexpr Base64Alphabet kStandardAlphabet =
    makeAlphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
constexpr Base64Alphabet kUrlAlphabet =
    makeAlphabet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

std::string encodeBase64(std::string_view bytes, const Base64Alphabet& alphabet, bool padded) {
    const std::string_view symbols = alphabet.symbols;
    std::string text;
    text.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t index = 0;
    for (; index + 3 <= bytes.size(); index += 3) {
        const std::uint32_t group = static_cast<std::uint8_t>(bytes[index]) << 16 |
                                    static_cast<std::uint8_t>(bytes[index + 1]) << 8 |
                                    static_cast<std::uint8_t>(bytes[index + 2]);
        text += symbols[group >> 18 & 0x3F];
        text += symbols[group >> 12 & 0x3F];
        text += symbols[group >> 6 & 0x3F];
        text += symbols[group & 0x3F];
    }
    const std::size_t rest = bytes.size() - index;
    if (rest > 0) {
        std::uint32_t group = static_cast<std::uint8_t>(bytes[index]) << 16;
        if (rest == 2) group |= static_cast<std::uint8_t>(bytes[index + 1]) << 8;
        text += symbols[group >> 18 & 0x3F];
        text += symbols[group >> 12 & 0x3F];
        if (rest == 2) text += symbols[group >> 6 & 0x3F];
        if (padded) text.append(rest == 1 ? "==" : "=");
    }
    return text;
}

std::optional<std::string> decodeBase64(std::string_view text, const Base64Alphabet& alphabet, bool padded) {
    if (padded) {
        if (text.size() % 4 != 0) return std::nullopt;
        if (text.ends_with("==")) {
            text.remove_suffix(2);
        } else if (text.ends_with('=')) {
            text.remove_suffix(1);
        }
    }
    if (text.size() % 4 == 1) return std::nullopt;

    std::string bytes;
    bytes.reserve(text.size() * 3 / 4);
    std::uint32_t accumulator = 0;
    int bits = 0;
    for (const char character : text) {
        const std::uint8_t value = alphabet.values[static_cast<std::uint8_t>(character)];
        if (value == kNotInAlphabet) return std::nullopt;
        accumulator = (accumulator << 6 | value) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            bytes += static_cast<char>(accumulator >> bits & 0xFF);
        }
    }
    // Leftover bits must be zero, so that every byte string has exactly one accepted spelling.
    if ((accumulator & ((1u << bits) - 1)) != 0) return std::nullopt;
    return bytes;
}

std::array<unsigned char, 32> sha256(std::string_view data) {
    std::array<unsigned char, 32> digest{};
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &length, openssl::sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 failed");
    }
    return digest;
}

std::string lowercaseHex(const std::array<unsigned char, 32>& digest) {
    constexpr std::string_view kHexDigits = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * digest.size());
    for (const unsigned char byte : digest) {
        hex += kHexDigits[byte >> 4];
        hex += kHexDigits[byte & 0x0F];
    }
    return hex;
}

std::string_view asChars(const std::array<unsigned char, 32>& digest) {
    return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

}  // namespace

bool constantTimeEquals(std::string_view left, std::string_view right) {
    if (left.size() != right.size()) return false;
    return CRYPTO_memcmp(left.data(), right.data(), left.size()) == 0;
}

std::string randomBytes(std::size_t count) {
    if (count > INT_MAX) throw std::runtime_error("too many random bytes requested");
    std::string bytes(count, '\0');
    if (count > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(count)) != 1) {
        throw std::runtime_error("the random generator failed");
    }
    return bytes;
}

std::string base64Encode(std::string_view bytes) { return encodeBase64(bytes, kStandardAlphabet, true); }

std::optional<std::string> base64Decode(std::string_view text) { return decodeBase64(text, kStandardAlphabet, true); }

std::string base64UrlEncode(std::string_view bytes) { return encodeBase64(bytes, kUrlAlphabet, false); }

std::optional<std::string> base64UrlDecode(std::string_view text) { return decodeBase64(text, kUrlAlphabet, false); }

std::string sha256Hex(std::string_view data) { return lowercaseHex(sha256(data)); }

std::string hmacSha256Hex(std::string_view key, std::string_view data) {
    std::array<unsigned char, 32> digest{};
    unsigned int length = 0;
    if (HMAC(openssl::sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(), &length) == nullptr ||
        length != digest.size()) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    return lowercaseHex(digest);
}

std::string sha256Base64Url(std::string_view data) { return base64UrlEncode(asChars(sha256(data))); }

}  // namespace bridge
