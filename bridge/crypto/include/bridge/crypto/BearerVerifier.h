#pragma once

#include <array>
#include <functional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "bridge/crypto/TokenAuthority.h"

namespace bridge {

// Verifies bearer tokens through the TokenAuthority once, then remembers the verified claims by the exact token
// text: the sync engine presents one token for every request, and the hot path should not recompute an HMAC and
// parse JSON each time. `exp` is still checked on every use; only tokens that verified are remembered.
class BearerVerifier {
public:
    explicit BearerVerifier(const TokenAuthority& authority, std::size_t capacity = 16384);

    // Throws Error(Unauthenticated) like TokenAuthority::verify.
    Principal verify(std::string_view token);

private:
    static constexpr std::size_t kShards = 16;
    // Lets the map be searched with the string_view from the request, without copying the token.
    struct TokenHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view token) const { return std::hash<std::string_view>{}(token); }
    };
    struct Shard {
        std::shared_mutex mutex;
        std::unordered_map<std::string, Principal, TokenHash, std::equal_to<>> verified;
    };

    const TokenAuthority& authority_;
    const std::size_t capacityPerShard_;
    std::array<Shard, kShards> shards_;
};

}  // namespace bridge
