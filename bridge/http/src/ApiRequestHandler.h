#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <spdlog/logger.h>

#include <memory>
#include <unordered_map>
#include <vector>

#include "bridge/base/Metrics.h"
#include "bridge/crypto/BearerVerifier.h"
#include "bridge/crypto/TokenAuthority.h"
#include "bridge/http/ApiFamily.h"

namespace bridge {

// The server's one factory: finds the family that owns the path and the route that matches, and hands both to a
// handler. Routing is done here so that the handler can log the route template.
class ApiRequestHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    ApiRequestHandlerFactory(std::vector<std::shared_ptr<ApiFamily>> families, const TokenAuthority& authority,
                             Metrics& metrics);

    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override;

    // What a handler records about each request of one family. Built once, so that the hot path takes no lock
    // and builds no label strings.
    struct FamilyInstruments {
        Metrics::Histogram* duration = nullptr;
        std::unordered_map<int, Metrics::Counter*> requestsByStatus;
        Metrics::Counter* requestsWithOtherStatus = nullptr;

        Metrics::Counter& requests(int status) const;
    };

private:
    struct Family {
        std::shared_ptr<ApiFamily> api;
        FamilyInstruments instruments;
    };
    Family describe(std::shared_ptr<ApiFamily> api);

    Metrics& metrics_;
    std::vector<Family> families_;
    Family fallback_;
    BearerVerifier verifier_;
    std::shared_ptr<spdlog::logger> log_;
};

}  // namespace bridge
