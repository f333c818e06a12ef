#include "testsupport/ServeProcess.h"

#include <regex>
#include <stdexcept>
#include <thread>

namespace bridge::testsupport {

std::optional<int> waitForListeningPort(ChildProcess& serve, std::chrono::milliseconds timeout) {
    const std::regex listening(R"(listening on port (\d+))");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline && serve.running()) {
        for (const auto& line : serve.lines()) {
            std::smatch match;
            if (std::regex_search(line, match, listening)) return std::stoi(match[1]);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
}

ServeProcess::ServeProcess(std::map<std::string, std::string> environment)
    : process_({.executable = BRIDGE_EXECUTABLE,
                .arguments = {"serve"},
                .environment = std::move(environment),
                .captureStderr = true}) {
    const auto port = waitForListeningPort(process_, std::chrono::seconds(30));
    if (!port) throw std::runtime_error("bridge serve never listened; output:\n" + process_.output());
    port_ = *port;
}

}  // namespace bridge::testsupport
