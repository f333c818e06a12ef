#include "bridge/crypto/BearerVerifier.h"

#include <chrono>
#include <functional>
#include <mutex>

#include "bridge/base/Error.h"

namespace bridge {

BearerVerifier::BearerVerifier(const TokenAuthority& authority, std::size_t capacity)
    : authority_(authority), capacityPerShard_(capacity / kShards + 1) {}

Principal BearerVerifier::verify(std::string_view token) {
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    Shard& shard = shards_[TokenHash{}(token) % kShards];
    {
        std::shared_lock lock(shard.mutex);
        auto found = shard.verified.find(token);
        if (found != shard.verified.end()) {
            if (found->second.expiresAt > now) return found->second;
            throw Error(ErrorCode::Unauthenticated, "bearer token has expired");
        }
    }
    Principal principal = authority_.verify(token);
    std::unique_lock lock(shard.mutex);
    // A full shard is simply emptied: tokens are few and long-lived, so this is rare and cheap to refill.
    if (shard.verified.size() >= capacityPerShard_) shard.verified.clear();
    shard.verified.emplace(std::string(token), principal);
    return principal;
}

}  // namespace bridge
