#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "testsupport/ChildProcess.h"

namespace bridge::testsupport {

// The port a `bridge serve` child process logs ("listening on port N"); nullopt when it exits, or logs no port
// within `timeout`.
std::optional<int> waitForListeningPort(ChildProcess& serve, std::chrono::milliseconds timeout);

// One `bridge serve` child process with the given environment (BRIDGE_* settings, BRIDGE_HTTP_PORT=0 for a port of
// its choosing), listening once constructed; throws with its output if it does not start listening in 30 s.
class ServeProcess {
public:
    explicit ServeProcess(std::map<std::string, std::string> environment);

    int port() const { return port_; }
    int pid() const { return process_.pid(); }
    std::string output() const { return process_.output(); }
    // SIGKILL: a crash, with nothing cleaned up.
    void crash() { process_.kill(); }

private:
    ChildProcess process_;
    int port_ = 0;
};

}  // namespace bridge::testsupport
