#pragma once

#include <Poco/Net/HTTPRequestHandler.h>

#include <memory>
#include <string>

#include "StandinAnswer.h"
#include "StandinRequest.h"
#include "StandinState.h"

namespace bridge::standin {

// Turns one HTTP request into a StandinRequest, routes it, and delivers the answer (or the injected fault).
class StandinRequestHandler : public Poco::Net::HTTPRequestHandler {
public:
    StandinRequestHandler(std::shared_ptr<StandinState> state, std::string ownHost);

    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override;

private:
    StandinRequest read(Poco::Net::HTTPServerRequest& request) const;
    StandinAnswer route(const StandinRequest& request);
    void deliver(const StandinAnswer& answer, Poco::Net::HTTPServerRequest& request,
                 Poco::Net::HTTPServerResponse& response);

    std::shared_ptr<StandinState> state_;
    std::string ownHost_;
};

}  // namespace bridge::standin
