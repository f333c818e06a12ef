// salesforce-standin: runs the Salesforce stand-in until SIGTERM or SIGINT.
#include <pthread.h>
#include <signal.h>

#include <charconv>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "standin/StandinServer.h"

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr std::string_view kUsage =
    "usage: salesforce-standin [--host 127.0.0.1] [--port 0] [--client-id ID] [--client-secret SECRET]\n"
    "Prints \"listening on <port>\" once it listens; runs until SIGTERM or SIGINT.\n";

bridge::standin::StandinOptions parseArguments(const std::vector<std::string>& arguments) {
    bridge::standin::StandinOptions options;
    for (std::size_t index = 0; index < arguments.size(); index += 2) {
        const std::string& name = arguments[index];
        if (index + 1 >= arguments.size()) throw std::invalid_argument(name + " needs a value");
        const std::string& value = arguments[index + 1];
        if (name == "--host") {
            options.host = value;
        } else if (name == "--port") {
            const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), options.port);
            if (error != std::errc() || end != value.data() + value.size() || options.port < 0 ||
                options.port > 65535) {
                throw std::invalid_argument("--port needs a number from 0 to 65535");
            }
        } else if (name == "--client-id") {
            options.clientId = value;
        } else if (name == "--client-secret") {
            options.clientSecret = value;
        } else {
            throw std::invalid_argument("unknown option " + name);
        }
    }
    return options;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> arguments(argv + 1, argv + argc);
    if (!arguments.empty() && (arguments[0] == "--help" || arguments[0] == "-h")) {
        std::cout << kUsage;
        return EXIT_SUCCESS;
    }
    bridge::standin::StandinOptions options;
    try {
        options = parseArguments(arguments);
    } catch (const std::exception& error) {
        std::cerr << "salesforce-standin: " << error.what() << "\n" << kUsage;
        return kExitUsage;
    }

    // Blocked before any thread starts, so every thread inherits the mask and sigwait below receives them.
    sigset_t terminationSignals;
    sigemptyset(&terminationSignals);
    sigaddset(&terminationSignals, SIGTERM);
    sigaddset(&terminationSignals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &terminationSignals, nullptr);

    try {
        bridge::standin::StandinServer server(options);
        server.start();
        std::cout << "listening on " << server.port() << std::endl;
        int received = 0;
        sigwait(&terminationSignals, &received);
        server.stop();
    } catch (const std::exception& error) {
        std::cerr << "salesforce-standin: " << error.what() << "\n";
        return kExitFailed;
    }
    return EXIT_SUCCESS;
}
