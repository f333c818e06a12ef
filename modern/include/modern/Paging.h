#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bridge/http/ApiRequest.h"

namespace bridge::modern {

// A page request of the new panel: `cursor` (opaque: it encodes the last key seen) and `limit` (1..500).
struct PageRequest {
    std::optional<std::int64_t> afterKey;
    int limit = 50;
};

PageRequest pageRequestOf(const ApiRequest& request);
std::string cursorFor(std::int64_t lastKey);

}  // namespace bridge::modern
