#include "OAuthCrypto.h"

#include <Poco/Base64Encoder.h>
#include <Poco/SHA2Engine.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace bridge::standin {
namespace {

std::string base64(const unsigned char* bytes, std::size_t length, int options) {
    std::ostringstream text;
    Poco::Base64Encoder encoder(text, options);
    encoder.rdbuf()->setLineLength(0);
    encoder.write(reinterpret_cast<const char*>(bytes), static_cast<std::streamsize>(length));
    encoder.close();
    return text.str();
}

}  // namespace

std::string pkceS256Challenge(std::string_view codeVerifier) {
    Poco::SHA2Engine sha256(Poco::SHA2Engine::SHA_256);
    sha256.update(codeVerifier.data(), static_cast<unsigned>(codeVerifier.size()));
    const Poco::DigestEngine::Digest& digest = sha256.digest();
    return base64(digest.data(), digest.size(), Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
}

std::string hmacSha256Base64(std::string_view key, std::string_view data) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int digestLength = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(),
             &digestLength) == nullptr) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    return base64(digest.data(), digestLength, 0);
}

std::string randomTokenCharacters(std::size_t count) {
    // 64 characters, so each random byte's low six bits pick one without bias.
    static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    std::vector<unsigned char> bytes(count);
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) throw std::runtime_error("RAND_bytes failed");
    std::string characters;
    characters.reserve(count);
    for (unsigned char byte : bytes) characters += kAlphabet[byte & 0x3F];
    return characters;
}

}  // namespace bridge::standin
