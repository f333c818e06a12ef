#include "bridge/crypto/TokenAuthority.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JWT/Serializer.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>
#include <Poco/Timestamp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <stdexcept>

#include "bridge/base/Error.h"
#include "bridge/crypto/Secrets.h"

namespace bridge {
namespace {

constexpr std::string_view kRoleClaim = "role";
constexpr std::string_view kOrganizationsClaim = "orgs";
// base64url of {"alg":"HS256","typ":"JWT"}, the header issue() writes: recognised without parsing any JSON.
constexpr std::string_view kIssuedHeader = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

[[noreturn]] void reject(std::string reason) { throw Error(ErrorCode::Unauthenticated, std::move(reason)); }

Poco::JSON::Object::Ptr decodeSegment(std::string_view segment) {
    Poco::JSON::Object::Ptr object;
    try {
        object = Poco::JWT::Serializer::deserialize(std::string(segment));
    } catch (const Poco::Exception&) {
        reject("bearer token is malformed");
    }
    if (!object) reject("bearer token is malformed");
    return object;
}

void requireHs256Header(std::string_view header) {
    if (header == kIssuedHeader) return;
    const Poco::JSON::Object::Ptr object = decodeSegment(header);
    const Poco::Dynamic::Var algorithm = object->get(Poco::JWT::Token::CLAIM_ALGORITHM);
    if (!algorithm.isString() || algorithm.extract<std::string>() != Poco::JWT::Signer::ALGO_HS256) {
        reject("bearer token algorithm is not HS256");
    }
}

void requireValidSignature(std::string_view secret, std::string_view signedPart, std::string_view signature) {
    const std::optional<std::string> presented = base64UrlDecode(signature);
    std::array<unsigned char, EVP_MAX_MD_SIZE> expected{};
    unsigned int expectedLength = 0;
    if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(signedPart.data()), signedPart.size(), expected.data(),
             &expectedLength) == nullptr) {
        reject("bearer token signature cannot be checked");
    }
    const std::string_view expectedView(reinterpret_cast<const char*>(expected.data()), expectedLength);
    if (!presented || !constantTimeEquals(*presented, expectedView)) reject("bearer token signature is invalid");
}

std::int64_t requiredInteger(const Poco::JSON::Object& claims, const std::string& name) {
    const Poco::Dynamic::Var value = claims.get(name);
    if (value.isEmpty()) reject("bearer token has no " + name);
    if (!value.isInteger() || value.isBoolean()) reject("bearer token " + name + " is not an integer");
    try {
        return value.convert<std::int64_t>();
    } catch (const Poco::Exception&) {
        reject("bearer token " + name + " is out of range");
    }
}

std::string requiredString(const Poco::JSON::Object& claims, const std::string& name) {
    const Poco::Dynamic::Var value = claims.get(name);
    if (value.isEmpty()) reject("bearer token has no " + name);
    if (!value.isString() || value.extract<std::string>().empty()) reject("bearer token " + name + " is invalid");
    return value.extract<std::string>();
}

std::vector<std::int64_t> organizationsOf(const Poco::JSON::Object& claims) {
    const std::string name(kOrganizationsClaim);
    const Poco::JSON::Array::Ptr array = claims.getArray(name);
    if (!array) reject("bearer token has no valid " + name);
    std::vector<std::int64_t> organizations;
    organizations.reserve(array->size());
    for (const Poco::Dynamic::Var& element : *array) {
        if (!element.isInteger() || element.isBoolean()) reject("bearer token " + name + " holds a non-integer");
        try {
            organizations.push_back(element.convert<std::int64_t>());
        } catch (const Poco::Exception&) {
            reject("bearer token " + name + " holds an id out of range");
        }
    }
    return organizations;
}

}  // namespace

std::string_view roleName(Role role) {
    switch (role) {
        case Role::Support: return "support";
        case Role::OrgAdmin: return "org-admin";
        case Role::SyncEngine: return "sync-engine";
    }
    throw std::invalid_argument("unknown role");
}

std::optional<Role> parseRole(std::string_view name) {
    for (const Role role : {Role::Support, Role::OrgAdmin, Role::SyncEngine}) {
        if (roleName(role) == name) return role;
    }
    return std::nullopt;
}

TokenAuthority::TokenAuthority(std::string secret) : secret_(std::move(secret)) {
    if (secret_.empty()) throw std::invalid_argument("the bearer-token signing secret is empty");
}

TokenAuthority::~TokenAuthority() { OPENSSL_cleanse(secret_.data(), secret_.size()); }

std::string TokenAuthority::issue(const Principal& principal, std::chrono::seconds ttl) const {
    Poco::JWT::Token token;
    token.setType("JWT");
    token.setSubject(principal.subject);
    token.payload().set(std::string(kRoleClaim), std::string(roleName(principal.role)));
    if (principal.role != Role::OrgAdmin && !principal.organizations.empty()) {
        throw std::invalid_argument("only an org-admin token names organizations");
    }
    if (principal.role == Role::OrgAdmin) {
        Poco::JSON::Array::Ptr organizations = new Poco::JSON::Array;
        for (const std::int64_t organization : principal.organizations) organizations->add(organization);
        token.payload().set(std::string(kOrganizationsClaim), organizations);
    }
    // Whole seconds: verify() accepts an integer exp only.
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    token.setIssuedAt(Poco::Timestamp::fromEpochTime(now.time_since_epoch().count()));
    token.setExpiration(Poco::Timestamp::fromEpochTime((now + ttl).time_since_epoch().count()));
    return Poco::JWT::Signer(secret_).sign(token, Poco::JWT::Signer::ALGO_HS256);
}

// Checked here rather than with Poco::JWT::Signer::verify, which (Poco 1.11) parses the payload before it looks at
// the algorithm, compares MACs with a timing-dependent operator==, and builds an algorithm factory per call.
Principal TokenAuthority::verify(std::string_view bearerToken) const {
    const auto firstDot = bearerToken.find('.');
    const auto secondDot = bearerToken.find('.', firstDot == std::string_view::npos ? firstDot : firstDot + 1);
    if (secondDot == std::string_view::npos || bearerToken.find('.', secondDot + 1) != std::string_view::npos) {
        reject("bearer token is not a JWT");
    }
    const std::string_view header = bearerToken.substr(0, firstDot);
    const std::string_view payload = bearerToken.substr(firstDot + 1, secondDot - firstDot - 1);
    const std::string_view signature = bearerToken.substr(secondDot + 1);

    requireHs256Header(header);
    requireValidSignature(secret_, bearerToken.substr(0, secondDot), signature);

    const Poco::JSON::Object::Ptr claims = decodeSegment(payload);
    const std::int64_t expiresAt = requiredInteger(*claims, Poco::JWT::Token::CLAIM_EXPIRATION);
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    if (expiresAt <= now.count()) reject("bearer token has expired");

    Principal principal;
    principal.subject = requiredString(*claims, Poco::JWT::Token::CLAIM_SUBJECT);
    const std::optional<Role> role = parseRole(requiredString(*claims, std::string(kRoleClaim)));
    if (!role) reject("bearer token role is unknown");
    principal.role = *role;
    principal.expiresAt = expiresAt;
    // Support and the sync engine reach every organization: a list in their token would read as a limit that
    // nothing enforces, so such a token is not one we issued.
    if (principal.role == Role::OrgAdmin) {
        principal.organizations = organizationsOf(*claims);
    } else if (claims->has(std::string(kOrganizationsClaim))) {
        reject("bearer token names organizations for a role that has none");
    }
    return principal;
}

}  // namespace bridge
