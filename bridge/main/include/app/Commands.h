#pragma once

#include <string>
#include <vector>

namespace bridge::app {

// Exit codes of OPERATIONS.md.
enum ExitCode : int { kExitDone = 0, kExitFailed = 1, kExitUsage = 2, kExitRowsLeft = 3 };

// Runs `bridge <subcommand> [options]`; returns the process exit code.
int runCommandLine(const std::vector<std::string>& arguments);

}  // namespace bridge::app
