#pragma once

#include <vector>

#include "bridge/http/ApiFamily.h"
#include "bridge/services/Connectivity.h"
#include "bridge/services/Directory.h"

namespace bridge::legacy {

// The legacy admin panel's wire format (`/legacy/api`): the success envelope, the legacy status names and times,
// the legacy error codes. Its clients cannot change, so every spelling here is the contract's.
class LegacyApi : public ApiFamily {
public:
    LegacyApi(Directory& directory, Connectivity& connectivity);

    std::string_view name() const override { return "legacy"; }
    bool owns(std::string_view path) const override;
    const std::vector<Route>& routes() const override { return routes_; }
    ApiResponse errorResponse(const Error& error) const override;

private:
    ApiResponse organizations(ApiRequest& request);
    ApiResponse connectivity(ApiRequest& request);
    ApiResponse changeConnectivity(ApiRequest& request);
    ApiResponse connect(ApiRequest& request);
    ApiResponse reconnect(ApiRequest& request);
    ApiResponse users(ApiRequest& request);
    ApiResponse user(ApiRequest& request);

    Organization organizationOf(const ApiRequest& request);

    Directory& directory_;
    Connectivity& connectivity_;
    std::vector<Route> routes_;
};

}  // namespace bridge::legacy
