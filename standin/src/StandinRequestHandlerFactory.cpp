#include "StandinRequestHandlerFactory.h"

#include <utility>

#include "StandinRequestHandler.h"

namespace bridge::standin {

StandinRequestHandlerFactory::StandinRequestHandlerFactory(std::shared_ptr<StandinState> state, std::string ownHost)
    : state_(std::move(state)), ownHost_(std::move(ownHost)) {}

Poco::Net::HTTPRequestHandler* StandinRequestHandlerFactory::createRequestHandler(
    const Poco::Net::HTTPServerRequest& /*request*/) {
    return new StandinRequestHandler(state_, ownHost_);
}

}  // namespace bridge::standin
