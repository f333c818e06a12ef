#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bridge::standin {

// base64url(SHA-256(codeVerifier)) without padding: the S256 code challenge of PKCE.
std::string pkceS256Challenge(std::string_view codeVerifier);

// base64(HMAC-SHA256(key, data)), as Salesforce signs `id` + `issued_at` with the client secret.
std::string hmacSha256Base64(std::string_view key, std::string_view data);

// Cryptographically random characters from [A-Za-z0-9._], for codes and tokens.
std::string randomTokenCharacters(std::size_t count);

}  // namespace bridge::standin
