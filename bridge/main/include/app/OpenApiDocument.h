#pragma once

#include <string_view>

namespace bridge::app {

// ../shared/contracts/API.md as an OpenAPI 3 document, served at /openapi.json.
std::string_view openApiDocument();

}  // namespace bridge::app
