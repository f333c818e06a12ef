#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "bridge/store/Store.h"
#include "migrations/LegacyOrganizationTranslator.h"
#include "migrations/LegacyReader.h"
#include "migrations/MigrationProgress.h"

namespace spdlog {
class logger;
}

namespace bridge::migrations {

struct MigrationSummary {
    std::int64_t migrated = 0;
    std::int64_t alreadyCurrent = 0;
    std::int64_t skipped = 0;  // the "skipped ..." lines
    std::int64_t failed = 0;
    // Why the run stopped before the end (the legacy database or the store went away); a rerun picks up.
    std::optional<std::string> abortedBecause;

    // "migrated <n>, already current <n>, skipped <n>, failed <n>"
    std::string line() const;
    // OPERATIONS.md: 0 all migrated, 3 finished but rows were left behind, 1 did not finish.
    int exitCode() const;
};

// The one-shot migration: every legacy organization, in id order and in batches, becomes one all-or-nothing
// store write; orphans are reported at the end. Standard output (`report`) gets one line per row that does not
// migrate and the summary last; progress and warnings go to standard error. While the store cannot be reached the
// write is retried, up to `storeRetryBudget`, so a store restart does not end the run.
class LegacyMigrator {
public:
    LegacyMigrator(Store& store, const LegacyOrganizationTranslator& translator, std::ostream& report,
                   std::shared_ptr<spdlog::logger> log,
                   std::chrono::milliseconds storeRetryBudget = std::chrono::seconds(60));

    // The summary line is printed last, also when the run is aborted.
    MigrationSummary run(LegacyReader& reader, MigrationProgress& progress);

private:
    // A batch as the translating thread hands it over: every organization read, in id order, and the store writes of
    // those that migrate, in the same order.
    struct TranslatedBatch {
        struct Organization {
            std::int64_t orgId = 0;
            bool migrates = false;              // false: nothing of it migrates, its skipped lines say why
            std::vector<std::string> skipped;   // the report's lines for its rows that do not migrate
            std::vector<std::string> warnings;  // for the log
        };
        std::vector<Organization> organizations;
        std::vector<MigratedOrganization> writes;
        // An id with no organization to migrate: an orphan ("skipped organization ...") or, in a staged run, a
        // selected id that is not in the legacy database ("not found ...", a warning and no skipped row).
        struct Orphan {
            std::int64_t orgId = 0;
            std::string line;  // for the report
            bool skipped = true;
        };
        std::vector<Orphan> orphans;  // read with the batch, by id

        bool empty() const { return organizations.empty() && orphans.empty(); }
    };

    TranslatedBatch translate(LegacyBatch&& legacy) const;
    void migrateBatch(const TranslatedBatch& batch, MigrationSummary& summary);
    void migrate(const TranslatedBatch::Organization& organization, const MigratedOrganization& migrated,
                 MigrationSummary& summary);
    void report(const TranslatedBatch::Organization& organization, MigrationWrite result, MigrationSummary& summary);
    // Runs a store write again, with growing pauses, while the store reports itself unavailable, for at most
    // the retry budget.
    template <typename Write>
    auto retryingWhileStoreIsAway(Write&& write);
    void reportSkipped(const std::string& line, MigrationSummary& summary);

    Store& store_;
    const LegacyOrganizationTranslator& translator_;
    std::ostream& report_;
    std::shared_ptr<spdlog::logger> log_;
    std::chrono::milliseconds storeRetryBudget_;
};

}  // namespace bridge::migrations
