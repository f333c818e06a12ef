#pragma once

#include "bridge/base/Error.h"
#include "bridge/http/ApiRequest.h"

namespace bridge {

// RFC 9457 problem+json, the error shape of the new panel, the broker, the callback and the operations endpoints.
// The status and wire code of each ErrorCode are decided here and nowhere else for those families.
struct ProblemWire {
    int status;
    std::string_view code;
    std::string_view title;
};
ProblemWire errorToProblem(ErrorCode code);
ApiResponse problemResponse(const Error& error);

}  // namespace bridge
