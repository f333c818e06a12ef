#pragma once

#include <openssl/evp.h>

// The OpenSSL algorithms the bridge uses, each fetched once for the life of the process. OpenSSL 3 looks an
// algorithm up in its provider tables (EVP_CIPHER_fetch, EVP_MD_fetch) every time one is named through an old-style
// getter such as EVP_sha256(): for a migration that seals and fingerprints a hundred thousand organizations, or a
// broker decrypting on every request, that lookup cost as much as the work. Never null: a missing algorithm throws.

namespace bridge::openssl {

const EVP_CIPHER* aes256Gcm();
const EVP_CIPHER* aes256Cbc();
const EVP_MD* sha256();

}  // namespace bridge::openssl
