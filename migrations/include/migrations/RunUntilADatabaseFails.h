#pragma once

#include <functional>
#include <optional>
#include <string>

namespace bridge::migrations {

// Runs `work` (a migration or a verification); when the legacy database fails or the store is unavailable, returns
// why the run stops there, for its summary. Every other error goes through.
std::optional<std::string> runUntilADatabaseFails(const std::function<void()>& work);

}  // namespace bridge::migrations
