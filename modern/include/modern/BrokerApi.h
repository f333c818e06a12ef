#pragma once

#include <vector>

#include "bridge/http/ApiFamily.h"
#include "bridge/services/TokenBroker.h"

namespace bridge::modern {

// The token broker's wire format (`/internal/v1`, role sync-engine): plain JSON answers, problem+json errors.
class BrokerApi : public ApiFamily {
public:
    explicit BrokerApi(TokenBroker& broker);

    std::string_view name() const override { return "broker"; }
    bool owns(std::string_view path) const override;
    const std::vector<Route>& routes() const override { return routes_; }
    ApiResponse errorResponse(const Error& error) const override;

private:
    std::vector<Route> routes_;
};

}  // namespace bridge::modern
