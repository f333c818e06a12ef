#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <memory>
#include <string>

#include "StandinState.h"

namespace bridge::standin {

class StandinRequestHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    // `ownHost` ("127.0.0.1:PORT") stands in for the Host header of a request that has none.
    StandinRequestHandlerFactory(std::shared_ptr<StandinState> state, std::string ownHost);

    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest& request) override;

private:
    std::shared_ptr<StandinState> state_;
    std::string ownHost_;
};

}  // namespace bridge::standin
