#include "bridge/PublicIds.h"

#include <openssl/sha.h>

namespace bridge {

namespace {

std::string hashedId(std::string_view prefix, std::int64_t legacyId) {
    const std::string input = std::string(prefix) + ":" + std::to_string(legacyId);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    constexpr char hex[] = "0123456789abcdef";
    std::string id(prefix);
    id += '_';
    for (int i = 0; i < 12; ++i) {
        id += hex[digest[i] >> 4];
        id += hex[digest[i] & 0xF];
    }
    return id;
}

}  // namespace

std::string profileIdFor(std::int64_t legacyOrgId) { return hashedId("prf", legacyOrgId); }

std::string userIdFor(std::int64_t legacyUserId) { return hashedId("usr", legacyUserId); }

}  // namespace bridge
