#include "testsupport/SpawnChild.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <system_error>

namespace bridge::testsupport {

namespace {

std::vector<char*> nullTerminated(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (std::string& string : strings) pointers.push_back(string.data());
    pointers.push_back(nullptr);
    return pointers;
}

}  // namespace

std::vector<std::string> environmentWith(const std::map<std::string, std::string>& overrides) {
    std::vector<std::string> variables;
    for (char** variable = environ; *variable != nullptr; ++variable) {
        const std::string_view entry(*variable);
        if (!overrides.contains(std::string(entry.substr(0, entry.find('='))))) variables.emplace_back(entry);
    }
    for (const auto& [name, value] : overrides) variables.push_back(name + "=" + value);
    return variables;
}

pid_t spawnChild(std::vector<std::string> arguments, std::vector<std::string> environment, const ChildStreams& streams,
                 const std::string& workingDirectory) {
    const std::vector<char*> argv = nullTerminated(arguments);
    const std::vector<char*> envp = nullTerminated(environment);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork " + arguments.front());
    if (pid == 0) {
        // Only async-signal-safe calls from here to exec.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        if (streams.input >= 0) ::dup2(streams.input, STDIN_FILENO);
        if (streams.output >= 0) ::dup2(streams.output, STDOUT_FILENO);
        if (streams.error >= 0) ::dup2(streams.error, STDERR_FILENO);
        ::close_range(3, ~0U, 0);  // the pipes and files of the other children, among others
        if (!workingDirectory.empty() && ::chdir(workingDirectory.c_str()) != 0) ::_exit(127);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    return pid;
}

}  // namespace bridge::testsupport
