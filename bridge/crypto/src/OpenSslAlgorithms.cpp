#include "bridge/crypto/OpenSslAlgorithms.h"

#include <openssl/err.h>

#include <stdexcept>
#include <string>

namespace bridge::openssl {

namespace {

// Fetched algorithms are reference counted; these are kept to the end of the process on purpose.
template <typename Algorithm>
const Algorithm* fetched(Algorithm* algorithm, const char* name) {
    if (algorithm == nullptr) {
        ERR_clear_error();
        throw std::runtime_error(std::string("OpenSSL has no ") + name);
    }
    return algorithm;
}

}  // namespace

const EVP_CIPHER* aes256Gcm() {
    static const EVP_CIPHER* const cipher = fetched(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr), "AES-256-GCM");
    return cipher;
}

const EVP_CIPHER* aes256Cbc() {
    static const EVP_CIPHER* const cipher = fetched(EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr), "AES-256-CBC");
    return cipher;
}

const EVP_MD* sha256() {
    static const EVP_MD* const digest = fetched(EVP_MD_fetch(nullptr, "SHA2-256", nullptr), "SHA-256");
    return digest;
}

}  // namespace bridge::openssl
