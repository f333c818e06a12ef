// The bearer-JWT verifier, as the HTTP handler calls it with the Authorization header's token.
//
// A token whose signature does not check out never reaches the claims parser, and a fuzzer cannot forge HMACs, so
// inputs starting with 'S' are signed here with the verifier's own secret: the rest of the input is the
// "header.payload" part, which lets the fuzzer reach the header and claims checks behind the signature.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bridge/base/Error.h"
#include "bridge/crypto/BearerVerifier.h"
#include "bridge/crypto/Secrets.h"

namespace {

constexpr std::string_view kSecret = "fuzzing-secret-of-at-least-32-bytes!";

std::string signedWithTheSecret(std::string_view headerAndPayload) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int macLength = 0;
    HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
         reinterpret_cast<const unsigned char*>(headerAndPayload.data()), headerAndPayload.size(), mac, &macLength);
    return std::string(headerAndPayload) + "." +
           bridge::base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac), macLength));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bridge::TokenAuthority authority{std::string(kSecret)};
    // Small, so that the fuzzer also runs through the verifier's eviction of remembered tokens.
    static bridge::BearerVerifier verifier(authority, 64);

    std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::string token = input.starts_with('S') ? signedWithTheSecret(input.substr(1)) : std::string(input);
    try {
        const bridge::Principal principal = verifier.verify(token);
        // A remembered token must verify to the same principal again.
        const bridge::Principal again = verifier.verify(token);
        if (again.subject != principal.subject || again.role != principal.role ||
            again.organizations != principal.organizations || principal.subject.empty()) {
            __builtin_trap();
        }
    } catch (const bridge::Error& error) {
        if (error.code() != bridge::ErrorCode::Unauthenticated) __builtin_trap();
    }
    return 0;
}
