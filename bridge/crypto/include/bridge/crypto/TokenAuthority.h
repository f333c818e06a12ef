#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bridge {

enum class Role { Support, OrgAdmin, SyncEngine };

// Wire names: "support", "org-admin", "sync-engine".
std::string_view roleName(Role role);
std::optional<Role> parseRole(std::string_view name);

// Who a verified bearer token speaks for.
struct Principal {
    std::string subject;
    Role role = Role::OrgAdmin;               // with no organizations: sees nothing
    std::vector<std::int64_t> organizations;  // claim "orgs": legacy integer ids, what an org-admin may see
    std::int64_t expiresAt = 0;               // claim "exp", seconds since the epoch; set by verify()
};

// Issues and verifies the admin and sync-engine bearer tokens: JWTs signed with HS256 and nothing else.
// Immutable after construction, hence safe for concurrent use.
class TokenAuthority {
public:
    explicit TokenAuthority(std::string secret);
    TokenAuthority(const TokenAuthority&) = delete;
    TokenAuthority& operator=(const TokenAuthority&) = delete;
    ~TokenAuthority();

    // Throws std::invalid_argument for a support or sync-engine principal with organizations.
    std::string issue(const Principal& principal, std::chrono::seconds ttl) const;

    // Throws Error(ErrorCode::Unauthenticated) for anything but an unexpired HS256 token signed with our secret
    // that carries sub, role, exp and, for an org-admin only, orgs.
    Principal verify(std::string_view bearerToken) const;

private:
    std::string secret_;
};

}  // namespace bridge
