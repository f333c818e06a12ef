#include "bridge/store/PublicIds.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <memory>
#include <stdexcept>

namespace bridge {

namespace {

using namespace std::string_view_literals;
using Block = std::array<unsigned char, 16>;

// Not a secret (see PublicIds.h): it only has to stay the same forever, or every id given out would change.
constexpr Block kIdKey = {0x62, 0x72, 0x69, 0x64, 0x67, 0x65, 0x2d, 0x70,
                          0x75, 0x62, 0x6c, 0x69, 0x63, 0x2d, 0x69, 0x64};

// The block's second half names the kind of id, so that one kind never decodes as the other.
struct IdKind {
    std::string_view prefix;  // with its underscore
    std::string_view tag;     // 8 bytes
};
constexpr IdKind kProfile{"prf_", "profile\0"sv};
constexpr IdKind kUser{"usr_", "user\0\0\0\0"sv};
static_assert(kProfile.tag.size() == 8 && kUser.tag.size() == 8, "a tag fills the block's second half");

constexpr std::size_t kHexLength = 2 * sizeof(Block);
constexpr char kHexDigits[] = "0123456789abcdef";

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// One AES-128 block, no padding; a context per thread and direction, set up once (ids are made for every listed
// user, so the set-up is not paid per id).
Block transform(const Block& input, bool encrypt) {
    thread_local CipherContext encryptor(nullptr, &EVP_CIPHER_CTX_free);
    thread_local CipherContext decryptor(nullptr, &EVP_CIPHER_CTX_free);
    CipherContext& context = encrypt ? encryptor : decryptor;
    if (!context) {
        CipherContext created(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
        if (!created ||
            EVP_CipherInit_ex(created.get(), EVP_aes_128_ecb(), nullptr, kIdKey.data(), nullptr, encrypt ? 1 : 0) !=
                1 ||
            EVP_CIPHER_CTX_set_padding(created.get(), 0) != 1) {
            ERR_clear_error();
            throw std::runtime_error("cannot set up the public id cipher");
        }
        context = std::move(created);
    }
    Block output{};
    int written = 0;
    if (EVP_CipherUpdate(context.get(), output.data(), &written, input.data(), static_cast<int>(input.size())) != 1 ||
        written != static_cast<int>(output.size())) {
        ERR_clear_error();
        context.reset();  // set up afresh next time rather than reuse a context in an unknown state
        throw std::runtime_error("the public id cipher failed");
    }
    return output;
}

std::string encode(const IdKind& kind, std::int64_t legacyId) {
    Block plain{};
    const auto value = static_cast<std::uint64_t>(legacyId);
    for (std::size_t i = 0; i < 8; ++i) plain[i] = static_cast<unsigned char>(value >> (56 - 8 * i));
    std::copy(kind.tag.begin(), kind.tag.end(), plain.begin() + 8);
    const Block sealed = transform(plain, true);
    std::string id(kind.prefix);
    for (const unsigned char byte : sealed) {
        id += kHexDigits[byte >> 4];
        id += kHexDigits[byte & 0xF];
    }
    return id;
}

int hexValue(char digit) {
    if (digit >= '0' && digit <= '9') return digit - '0';
    if (digit >= 'a' && digit <= 'f') return digit - 'a' + 10;
    return -1;  // upper case is refused too: an id has exactly one spelling
}

std::optional<std::int64_t> decode(const IdKind& kind, std::string_view id) {
    if (id.size() != kind.prefix.size() + kHexLength || !id.starts_with(kind.prefix)) return std::nullopt;
    const std::string_view hex = id.substr(kind.prefix.size());
    Block sealed{};
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        const int high = hexValue(hex[2 * i]);
        const int low = hexValue(hex[2 * i + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        sealed[i] = static_cast<unsigned char>(high << 4 | low);
    }
    const Block plain = transform(sealed, false);
    if (!std::equal(kind.tag.begin(), kind.tag.end(), plain.begin() + 8)) return std::nullopt;
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < 8; ++i) value = value << 8 | plain[i];
    return static_cast<std::int64_t>(value);
}

}  // namespace

std::string profileIdFor(std::int64_t legacyOrgId) { return encode(kProfile, legacyOrgId); }

std::string userIdFor(std::int64_t legacyUserId) { return encode(kUser, legacyUserId); }

std::optional<std::int64_t> legacyOrgIdOf(std::string_view profileId) { return decode(kProfile, profileId); }

std::optional<std::int64_t> legacyUserIdOf(std::string_view userId) { return decode(kUser, userId); }

}  // namespace bridge
