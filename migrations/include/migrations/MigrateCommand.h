#pragma once

#include <optional>
#include <ostream>

#include "bridge/base/Config.h"
#include "migrations/OrganizationSelection.h"

namespace bridge::migrations {

// What `bridge migrate` was asked to do.
struct MigrateRequest {
    enum class Mode {
        Migrate,  // bridge migrate
        Verify,   // bridge migrate --verify
        DryRun,   // bridge migrate --dry-run
    };
    Mode mode = Mode::Migrate;
    // --org / --orgs-from: a staged run over these organizations only; nullopt: the whole legacy database.
    std::optional<OrganizationSelection> selection{};
};

// `bridge migrate`, `--verify` and `--dry-run`, wired from the configuration: the legacy database (legacy.dsn,
// legacy.tokenKeys), the store (store.dsn, crypto.keys, crypto.activeKey, whose schema is brought up to date first;
// a dry run never opens it) and migrate.batchSize. The report (skip lines or differences, then the summary line)
// goes to `out`; progress goes to `err`, a live bar when standard error is a terminal and periodic log lines
// otherwise. Returns the exit code of OPERATIONS.md: 0, 1 or 3 for a migration or a dry run, 0 or 1 for a
// verification. Throws ConfigError (exit code 2) for a configuration that cannot be used.
int runMigrateCommand(const Config& config, const MigrateRequest& request, std::ostream& out, std::ostream& err);

}  // namespace bridge::migrations
