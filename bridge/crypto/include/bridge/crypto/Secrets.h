#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

// Small primitives for handling secrets: comparison, randomness, digests and the base64 codecs tokens travel in.
namespace bridge {

// True when both hold the same bytes. Time depends on the lengths only, never on where the contents differ.
bool constantTimeEquals(std::string_view left, std::string_view right);

// Bytes from OpenSSL's CSPRNG; throws std::runtime_error when it cannot deliver.
std::string randomBytes(std::size_t count);

// RFC 4648 section 4 (standard alphabet, padded).
std::string base64Encode(std::string_view bytes);
// Strict: padding required, no whitespace, unused trailing bits zero; nullopt for anything else.
std::optional<std::string> base64Decode(std::string_view text);

// RFC 4648 section 5 (URL alphabet), without padding.
std::string base64UrlEncode(std::string_view bytes);
// Strict like base64Decode, and without padding.
std::optional<std::string> base64UrlDecode(std::string_view text);

std::string sha256Hex(std::string_view data);
std::string sha256Base64Url(std::string_view data);

// HMAC-SHA256 of `data` under `key`, in lowercase hex (the webhook's X-Bridge-Signature).
std::string hmacSha256Hex(std::string_view key, std::string_view data);

}  // namespace bridge
