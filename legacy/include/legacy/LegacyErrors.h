#pragma once

#include <string_view>

#include "bridge/base/Error.h"

namespace bridge::legacy {

struct LegacyWire {
    int status;
    std::string_view code;
};

// The one place that decides the legacy panel's HTTP status and errorCode for each failure.
LegacyWire errorToWire(ErrorCode code);

}  // namespace bridge::legacy
