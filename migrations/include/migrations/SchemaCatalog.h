#pragma once

#include <string_view>
#include <vector>

#include "bridge/store/Store.h"

namespace bridge::migrations {

// Every version of the shared store's schema, oldest first, in the given SQL dialect ("sqlite" or "mysql").
// A version once released never changes: a change is a new version appended at the end.
const std::vector<SchemaVersion>& schemaVersions(std::string_view sqlDialect);

// Brings the store's schema up to date (serve, migrate and schema all call this on start).
int upgradeSchema(Store& store);

}  // namespace bridge::migrations
