#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <memory>
#include <vector>

#include "bridge/ApiFamily.h"
#include "bridge/Metrics.h"
#include "bridge/TokenAuthority.h"

namespace bridge {

// The server's one factory: finds the family that owns the path and the route that matches, and hands both to a
// handler. Routing is done here so that the handler can log the route template.
class ApiRequestHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    ApiRequestHandlerFactory(std::vector<std::shared_ptr<ApiFamily>> families, const TokenAuthority& authority,
                             Metrics& metrics);

    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override;

private:
    std::vector<std::shared_ptr<ApiFamily>> families_;
    std::shared_ptr<ApiFamily> fallback_;
    const TokenAuthority& authority_;
    Metrics& metrics_;
};

}  // namespace bridge
