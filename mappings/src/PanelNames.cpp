#include "mappings/PanelNames.h"

namespace bridge::mappings {

std::string_view panelName(Panel panel) { return panel == Panel::Legacy ? "legacy" : "modern"; }

std::optional<Panel> parsePanelName(std::string_view name) {
    if (name == "legacy") return Panel::Legacy;
    if (name == "modern") return Panel::Modern;
    return std::nullopt;
}

}  // namespace bridge::mappings
