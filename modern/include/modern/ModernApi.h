#pragma once

#include <vector>

#include "bridge/http/ApiFamily.h"
#include "bridge/services/Connectivity.h"
#include "bridge/services/Directory.h"

namespace bridge::modern {

// The new admin panel's wire format (`/api/v2`): plain JSON, RFC 3339 times, cursor paging, problem+json errors.
class ModernApi : public ApiFamily {
public:
    ModernApi(Directory& directory, Connectivity& connectivity);

    std::string_view name() const override { return "modern"; }
    bool owns(std::string_view path) const override;
    const std::vector<Route>& routes() const override { return routes_; }
    ApiResponse errorResponse(const Error& error) const override;

private:
    ApiResponse profiles(ApiRequest& request);
    ApiResponse createProfile(ApiRequest& request);
    ApiResponse connectivity(ApiRequest& request);
    ApiResponse login(ApiRequest& request);
    ApiResponse refresh(ApiRequest& request);
    ApiResponse disconnect(ApiRequest& request);
    ApiResponse events(ApiRequest& request);
    ApiResponse notifications(ApiRequest& request);
    ApiResponse users(ApiRequest& request);
    ApiResponse createUser(ApiRequest& request);
    ApiResponse updateUser(ApiRequest& request);

    Organization profileOf(const ApiRequest& request);

    Directory& directory_;
    Connectivity& connectivity_;
    std::vector<Route> routes_;
};

}  // namespace bridge::modern
