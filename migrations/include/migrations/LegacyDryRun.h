#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "migrations/LegacyOrganizationTranslator.h"
#include "migrations/LegacyReader.h"
#include "migrations/MigrationProgress.h"

namespace spdlog {
class logger;
}

namespace bridge::migrations {

struct DryRunSummary {
    std::int64_t wouldMigrate = 0;
    std::int64_t skipped = 0;  // the "skipped ..." lines
    std::optional<std::string> abortedBecause;

    // "dry run: would migrate <n>, skipped <n>, nothing written"
    std::string line() const;
    // What a migration would exit with: 0 nothing left behind, 3 rows would be, 1 the run did not finish.
    int exitCode() const;
};

// `bridge migrate --dry-run`: reads and translates what a migration would (the whole legacy database or a
// selection), and reports it: "would migrate organization <id>: ..." for each organization that migrates, and
// every "skipped ..." and "not found ..." line a migration would print, in the same order, then the summary. It
// never opens the store: whether the store already holds an organization unchanged ("already current"), or holds
// one of its ids through the new panel (a conflict), is decided by the store when a migration writes; --verify
// tells that without writing.
class LegacyDryRun {
public:
    LegacyDryRun(const LegacyOrganizationTranslator& translator, std::ostream& report,
                 std::shared_ptr<spdlog::logger> log);

    // The summary line is printed last, also when the run is aborted.
    DryRunSummary run(LegacyReader& reader, MigrationProgress& progress);

private:
    void report(LegacyBatch&& batch, DryRunSummary& summary);

    const LegacyOrganizationTranslator& translator_;
    std::ostream& report_;
    std::shared_ptr<spdlog::logger> log_;
};

}  // namespace bridge::migrations
