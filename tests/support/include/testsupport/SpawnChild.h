#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace bridge::testsupport {

// Where a spawned child's standard streams go: a descriptor of the parent's, or -1 for the parent's own.
struct ChildStreams {
    int input = -1;
    int output = -1;
    int error = -1;
};

// The parent's environment with `overrides` added or replacing, as "NAME=value" strings.
std::vector<std::string> environmentWith(const std::map<std::string, std::string>& overrides);

// Forks and executes arguments[0] (an absolute path) with `environment`, the streams as given and every other
// descriptor closed, in `workingDirectory` unless empty. The child gets SIGKILL when the thread that started it
// ends: a test program that dies (an abort, a sanitizer's halt) takes its servers with it, and none is left
// holding the test runner's output open until ctest's timeout. A program that cannot be executed exits at once
// with status 127. Throws std::system_error when fork fails.
pid_t spawnChild(std::vector<std::string> arguments, std::vector<std::string> environment, const ChildStreams& streams,
                 const std::string& workingDirectory = {});

}  // namespace bridge::testsupport
