#pragma once

#include <ostream>

#include "bridge/base/Config.h"

namespace bridge::migrations {

// `bridge migrate` (verify = false) and `bridge migrate --verify`, wired from the configuration: the legacy
// database (legacy.dsn, legacy.tokenKeys), the store (store.dsn, crypto.keys, crypto.activeKey, whose schema is
// brought up to date first) and migrate.batchSize. The report (skip lines or differences, then the summary line)
// goes to `out`; progress goes to `err`, a live bar when standard error is a terminal and periodic log lines
// otherwise. Returns the exit code of OPERATIONS.md: 0, 1 or 3 for a migration, 0 or 1 for a verification.
// Throws ConfigError (exit code 2) for a configuration that cannot be used.
int runMigrateCommand(const Config& config, bool verify, std::ostream& out, std::ostream& err);

}  // namespace bridge::migrations
