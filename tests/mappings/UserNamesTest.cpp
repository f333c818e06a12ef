#include <gtest/gtest.h>

#include <string_view>

#include "mappings/UserNames.h"

namespace bridge::mappings {
namespace {

struct SyncSpellings {
    bool syncSuspended;
    std::optional<std::string_view> highlight;
    std::string_view synchronizationStatus;
    std::string_view legacyState;
};

class SyncStateSpellingTest : public testing::TestWithParam<SyncSpellings> {};

TEST_P(SyncStateSpellingTest, SpellsAndParsesEachWay) {
    const auto& row = GetParam();
    EXPECT_EQ(legacyHighlight(row.syncSuspended), row.highlight);
    EXPECT_EQ(synchronizationStatusName(row.syncSuspended), row.synchronizationStatus);
    EXPECT_EQ(legacySyncState(row.syncSuspended), row.legacyState);
    EXPECT_EQ(syncSuspendedFromLegacyState(row.legacyState), row.syncSuspended);
    EXPECT_EQ(syncSuspendedFromSynchronizationStatusName(row.synchronizationStatus), row.syncSuspended);
}

INSTANTIATE_TEST_SUITE_P(BothStates, SyncStateSpellingTest,
                         testing::Values(SyncSpellings{true, "red", "Disabled", "suspended"},
                                         SyncSpellings{false, std::nullopt, "Enabled", "ok"}));

TEST(SyncStateNames, RefusesUnknownLegacyStates) {
    for (const std::string_view state : {"", "OK", "Suspended", "SUSPENDED", "red", "ok ", "disabled", "0", "1"}) {
        SCOPED_TRACE(state);
        EXPECT_EQ(syncSuspendedFromLegacyState(state), std::nullopt);
    }
}

TEST(SyncStateNames, RefusesUnknownSynchronizationStatuses) {
    for (const std::string_view name : {"", "enabled", "DISABLED", "Suspended", "Enabled "}) {
        SCOPED_TRACE(name);
        EXPECT_EQ(syncSuspendedFromSynchronizationStatusName(name), std::nullopt);
    }
}

}  // namespace
}  // namespace bridge::mappings
