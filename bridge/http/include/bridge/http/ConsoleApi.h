#pragma once

#include <vector>

#include "bridge/http/ApiFamily.h"

namespace bridge {

// The admin console at /console/: static HTML, CSS and JavaScript compiled into the binary (bridge/http/console/),
// which call only the public /api/v2 and /legacy/api endpoints with a bearer token the admin pastes in. No token
// is needed to load the pages; every one carries a strict Content-Security-Policy (no inline script or style).
class ConsoleApi : public ApiFamily {
public:
    ConsoleApi();

    std::string_view name() const override { return "console"; }
    bool owns(std::string_view path) const override;
    const std::vector<Route>& routes() const override { return routes_; }
    ApiResponse errorResponse(const Error& error) const override;

private:
    std::vector<Route> routes_;
};

}  // namespace bridge
