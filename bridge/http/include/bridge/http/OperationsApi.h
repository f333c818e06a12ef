#pragma once

#include <vector>

#include "bridge/base/Metrics.h"
#include "bridge/http/ApiFamily.h"
#include "bridge/store/Store.h"

namespace bridge {

// /healthz (process up), /readyz (store reachable), /metrics (Prometheus text), /openapi.json. No token needed.
class OperationsApi : public ApiFamily {
public:
    OperationsApi(Store& store, Metrics& metrics, std::string openApiDocument);

    std::string_view name() const override { return "operations"; }
    bool owns(std::string_view path) const override;
    const std::vector<Route>& routes() const override { return routes_; }
    ApiResponse errorResponse(const Error& error) const override;

private:
    std::vector<Route> routes_;
};

}  // namespace bridge
