#pragma once

#include <optional>
#include <string>

namespace bridge::standin {

// A Salesforce user as the identity URL describes it; ids in the 18-character form.
struct Identity {
    std::string userId{};
    std::string organizationId{};
    std::string username{};
    std::string email{};
    std::string displayName{};
    bool active = true;
    std::string userType = "STANDARD";
};

// What POST /control/identity may change; ids in either form.
struct IdentityUpdate {
    std::optional<std::string> userId{};
    std::optional<std::string> organizationId{};
    std::optional<std::string> username{};
    std::optional<std::string> email{};
    std::optional<std::string> displayName{};
    std::optional<bool> active{};
    std::optional<std::string> userType{};
};

}  // namespace bridge::standin
