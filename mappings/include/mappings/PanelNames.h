#pragma once

#include <optional>
#include <string_view>

#include "mappings/Vocabulary.h"

namespace bridge::mappings {

// "legacy", "modern": the `panel` of a connectivity event.
std::string_view panelName(Panel panel);
std::optional<Panel> parsePanelName(std::string_view name);

}  // namespace bridge::mappings
