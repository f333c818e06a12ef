#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bridge::standin {

enum class FaultKind { Status500, Hang, NonJson, Drop, Processing, InvalidGrant, InvalidClient };

// The kind named as the control interface names it ("status500", "hang", ...), nullopt for an unknown name.
std::optional<FaultKind> faultKindFromName(std::string_view name);

// A fault served instead of the real answer on the next `remaining` calls of the token endpoint.
struct TokenFault {
    FaultKind kind = FaultKind::Status500;
    int remaining = 1;
    std::optional<std::string> grantType{};  // only calls with this grant_type; nullopt: every call
    int hangMs = 30000;
    std::string description = "expired access/refresh token";  // for InvalidGrant
    int status = 500;                                          // for Status500: any 5xx
};

}  // namespace bridge::standin
