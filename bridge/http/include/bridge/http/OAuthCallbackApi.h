#pragma once

#include <vector>

#include "bridge/http/ApiFamily.h"
#include "bridge/services/Connectivity.h"

namespace bridge {

// GET /oauth/salesforce/callback, where Salesforce sends the admin's browser back, and the built-in return pages
// (/oauth/salesforce/done/legacy and /oauth/salesforce/done/modern) that show an admin the outcome in words.
class OAuthCallbackApi : public ApiFamily {
public:
    static constexpr std::string_view kLegacyReturnPath = "/oauth/salesforce/done/legacy";
    static constexpr std::string_view kModernReturnPath = "/oauth/salesforce/done/modern";

    explicit OAuthCallbackApi(Connectivity& connectivity);

    std::string_view name() const override { return "oauth"; }
    bool owns(std::string_view path) const override;
    const std::vector<Route>& routes() const override { return routes_; }
    ApiResponse errorResponse(const Error& error) const override;

private:
    std::vector<Route> routes_;
};

// What an admin reads for each outcome of a login (the `reason` codes of the callback).
std::string_view outcomeInWords(std::string_view reasonCode);

}  // namespace bridge
