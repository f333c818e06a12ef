#include "bridge/crypto/TokenCipher.h"

// OpenSSL's EVP rather than Poco::Crypto: Poco 1.11's Cipher can read and set a GCM tag but has no way to feed
// associated data, which is what binds a ciphertext to its row.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <memory>

#include "bridge/crypto/OpenSslAlgorithms.h"
#include "bridge/crypto/Secrets.h"

namespace bridge {
namespace {

constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherContext newCipherContext() {
    CipherContext context(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    if (!context) throw std::runtime_error("cannot allocate a cipher context");
    return context;
}

const unsigned char* bytesOf(std::string_view text) { return reinterpret_cast<const unsigned char*>(text.data()); }

unsigned char* bytesOf(std::string& text) { return reinterpret_cast<unsigned char*>(text.data()); }

int checkedLength(std::size_t length) {
    if (length > INT_MAX - kTagBytes) throw TokenCipherError("token too long to seal");
    return static_cast<int>(length);
}

std::string_view trimmed(std::string_view text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t");
    return text.substr(first, last - first + 1);
}

// Wipes a string that holds key bytes however the scope ends.
class WipeOnExit {
public:
    explicit WipeOnExit(std::string& secret) : secret_(secret) {}
    WipeOnExit(const WipeOnExit&) = delete;
    WipeOnExit& operator=(const WipeOnExit&) = delete;
    ~WipeOnExit() { OPENSSL_cleanse(secret_.data(), secret_.size()); }

private:
    std::string& secret_;
};

}  // namespace

TokenCipher TokenCipher::fromSpec(std::string_view spec, std::optional<std::string> activeKeyId) {
    if (trimmed(spec).empty()) throw TokenCipherConfigError("no token-encryption keys configured");

    std::vector<Key> keys;
    // Reserved up front: growing the vector would leave copies of key bytes behind in freed memory.
    keys.reserve(static_cast<std::size_t>(std::count(spec.begin(), spec.end(), ',')) + 1);
    std::size_t entryStart = 0;
    for (std::size_t position = 1;; ++position) {
        const auto comma = spec.find(',', entryStart);
        const std::string_view entry = trimmed(spec.substr(entryStart, comma - entryStart));
        const std::string where = "token-encryption key entry " + std::to_string(position);
        if (entry.empty()) throw TokenCipherConfigError(where + " is empty");

        const auto colon = entry.find(':');
        if (colon == std::string_view::npos) throw TokenCipherConfigError(where + " is not ID:BASE64");
        const std::string id(trimmed(entry.substr(0, colon)));
        if (id.empty()) throw TokenCipherConfigError(where + " has an empty key id");
        if (std::any_of(keys.begin(), keys.end(), [&](const Key& key) { return key.id == id; })) {
            throw TokenCipherConfigError("duplicate token-encryption key id '" + id + "'");
        }

        std::optional<std::string> material = base64Decode(trimmed(entry.substr(colon + 1)));
        if (!material) throw TokenCipherConfigError("token-encryption key '" + id + "' is not valid base64");
        const WipeOnExit wipe(*material);
        if (material->size() != kKeyBytes) {
            throw TokenCipherConfigError("token-encryption key '" + id + "' is not 32 bytes");
        }
        Key& key = keys.emplace_back(Key{id, {}});
        std::copy(material->begin(), material->end(), key.bytes.begin());

        if (comma == std::string_view::npos) break;
        entryStart = comma + 1;
    }

    std::size_t activeIndex = 0;
    if (activeKeyId) {
        const auto active =
            std::find_if(keys.begin(), keys.end(), [&](const Key& key) { return key.id == *activeKeyId; });
        if (active == keys.end()) {
            throw TokenCipherConfigError("active key id '" + *activeKeyId + "' is not among the configured keys");
        }
        activeIndex = static_cast<std::size_t>(active - keys.begin());
    }
    return TokenCipher(std::move(keys), activeIndex);
}

TokenCipher::TokenCipher(std::vector<Key> keys, std::size_t activeIndex)
    : keys_(std::move(keys)), activeIndex_(activeIndex) {}

TokenCipher::~TokenCipher() {
    for (Key& key : keys_) OPENSSL_cleanse(key.bytes.data(), key.bytes.size());
}

SealedToken TokenCipher::seal(std::string_view plaintext, std::string_view associatedData) const {
    const Key& key = keys_[activeIndex_];
    const int plaintextLength = checkedLength(plaintext.size());
    const int associatedLength = checkedLength(associatedData.size());

    std::string sealed = randomBytes(kNonceBytes);
    sealed.resize(kNonceBytes + plaintext.size() + kTagBytes);
    unsigned char* nonce = bytesOf(sealed);
    unsigned char* ciphertext = nonce + kNonceBytes;

    const CipherContext context = newCipherContext();
    int written = 0;
    int finalWritten = 0;
    const bool sealedOk =
        EVP_EncryptInit_ex(context.get(), openssl::aes256Gcm(), nullptr, nullptr, nullptr) == 1 &&
        EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
        EVP_EncryptInit_ex(context.get(), nullptr, nullptr, key.bytes.data(), nonce) == 1 &&
        EVP_EncryptUpdate(context.get(), nullptr, &written, bytesOf(associatedData), associatedLength) == 1 &&
        EVP_EncryptUpdate(context.get(), ciphertext, &written, bytesOf(plaintext), plaintextLength) == 1 &&
        EVP_EncryptFinal_ex(context.get(), ciphertext + written, &finalWritten) == 1 &&
        EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, ciphertext + plaintext.size()) == 1;
    if (!sealedOk) throw TokenCipherError("sealing a token failed");
    return SealedToken{key.id, base64Encode(sealed)};
}

std::string TokenCipher::open(const SealedToken& sealed, std::string_view associatedData) const {
    const Key* key = findKey(sealed.keyId);
    if (key == nullptr) throw TokenCipherError("token sealed under an unknown key id '" + sealed.keyId + "'");

    const auto decoded = base64Decode(sealed.ciphertext);
    if (!decoded || decoded->size() < kNonceBytes + kTagBytes) {
        throw TokenCipherError("sealed token is not base64 of nonce, ciphertext and tag");
    }
    const std::string_view raw = *decoded;
    const std::string_view nonce = raw.substr(0, kNonceBytes);
    const std::string_view ciphertext = raw.substr(kNonceBytes, raw.size() - kNonceBytes - kTagBytes);
    std::string tag(raw.substr(raw.size() - kTagBytes));

    std::string plaintext(ciphertext.size(), '\0');
    const CipherContext context = newCipherContext();
    int written = 0;
    int finalWritten = 0;
    const bool openedOk = EVP_DecryptInit_ex(context.get(), openssl::aes256Gcm(), nullptr, nullptr, nullptr) == 1 &&
                          EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) == 1 &&
                          EVP_DecryptInit_ex(context.get(), nullptr, nullptr, key->bytes.data(), bytesOf(nonce)) == 1 &&
                          EVP_DecryptUpdate(context.get(), nullptr, &written, bytesOf(associatedData),
                                            checkedLength(associatedData.size())) == 1 &&
                          EVP_DecryptUpdate(context.get(), bytesOf(plaintext), &written, bytesOf(ciphertext),
                                            checkedLength(ciphertext.size())) == 1 &&
                          EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, bytesOf(tag)) == 1 &&
                          EVP_DecryptFinal_ex(context.get(), bytesOf(plaintext) + written, &finalWritten) == 1;
    if (!openedOk) {
        // GCM hands out plaintext before the tag is checked: do not leave unauthenticated bytes in freed memory.
        OPENSSL_cleanse(plaintext.data(), plaintext.size());
        throw TokenCipherError("sealed token failed authentication (tampered, other key or other associated data)");
    }
    return plaintext;
}

bool TokenCipher::needsResealing(const SealedToken& sealed) const { return sealed.keyId != activeKeyId(); }

const std::string& TokenCipher::activeKeyId() const { return keys_[activeIndex_].id; }

const TokenCipher::Key* TokenCipher::findKey(std::string_view id) const {
    const auto found = std::find_if(keys_.begin(), keys_.end(), [&](const Key& key) { return key.id == id; });
    return found == keys_.end() ? nullptr : &*found;
}

}  // namespace bridge
