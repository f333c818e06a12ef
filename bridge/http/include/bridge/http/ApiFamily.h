#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/base/Error.h"
#include "bridge/http/ApiRequest.h"

namespace bridge {

// Who may call a route: anyone, an admin of a panel (support, org-admin), or the sync engine.
enum class Access { Public, Panel, Broker };

struct Route {
    std::string method;
    std::string pathTemplate;  // "/legacy/api/organizations/{orgId}/users"
    Access access = Access::Panel;
    std::function<ApiResponse(ApiRequest&)> handle;
};

// One family of endpoints under one base path, with its own error shape. The server's request-handler factory
// tries each family in turn; a family only parses, calls one service function and serialises the answer.
class ApiFamily {
public:
    virtual ~ApiFamily() = default;

    virtual std::string_view name() const = 0;
    virtual bool owns(std::string_view path) const = 0;
    virtual const std::vector<Route>& routes() const = 0;
    // The family's wire shape for a failure (envelope, problem+json, ...).
    virtual ApiResponse errorResponse(const Error& error) const = 0;
};

// Matches "/a/{x}/b" against "/a/42/b", filling parameters; segments never match across '/'.
bool matchPathTemplate(std::string_view pathTemplate, std::string_view path,
                       std::map<std::string, std::string>& parameters);

}  // namespace bridge
