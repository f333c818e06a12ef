#pragma once

#include <ostream>

#include "bridge/base/Config.h"

namespace bridge::app {

// `bridge rekey`: re-seals every stored secret under the active key (`crypto.activeKey`, else the first entry of
// `crypto.keys`) while instances keep serving. Progress on standard error; on standard output one
// "skipped ..." line per value no configured key opens, then the summary
// "rewritten <n>, already current <n>, skipped <n>, busy <n>, failed <n>". Exit codes as the migrator's: 0 every
// value under the active key, 1 the store failed, 2 bad configuration, 3 values left under other keys.
int runRekeyCommand(const Config& config, int batchSize, std::ostream& out, std::ostream& err);

}  // namespace bridge::app
