#include <gtest/gtest.h>

#include <string_view>

#include "mappings/PanelNames.h"

namespace bridge::mappings {
namespace {

TEST(PanelNames, SpellsAndParsesBothPanels) {
    EXPECT_EQ(panelName(Panel::Legacy), "legacy");
    EXPECT_EQ(panelName(Panel::Modern), "modern");
    EXPECT_EQ(parsePanelName("legacy"), Panel::Legacy);
    EXPECT_EQ(parsePanelName("modern"), Panel::Modern);
}

TEST(PanelNames, RefusesAnythingElse) {
    for (const std::string_view name : {"", "Legacy", "MODERN", "new", "old", "legacy ", "v2"}) {
        SCOPED_TRACE(name);
        EXPECT_EQ(parsePanelName(name), std::nullopt);
    }
}

}  // namespace
}  // namespace bridge::mappings
