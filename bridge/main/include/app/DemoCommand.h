#pragma once

#include "bridge/base/Config.h"

namespace bridge::app {

// `bridge demo`: an embedded store in a temporary directory, the built-in Salesforce stand-in on a loopback port,
// the server wired to both, demo organizations and users, and what to try printed. Runs until SIGINT/SIGTERM,
// which the caller has blocked before starting any thread (blockTerminationSignals).
int runDemo(Config config);

}  // namespace bridge::app
