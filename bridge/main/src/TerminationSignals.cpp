#include "app/TerminationSignals.h"

#include <signal.h>

namespace bridge::app {

namespace {

sigset_t terminationSignals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    return signals;
}

}  // namespace

void blockTerminationSignals() {
    const sigset_t signals = terminationSignals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int waitForTerminationSignal() {
    const sigset_t signals = terminationSignals();
    int received = 0;
    sigwait(&signals, &received);
    return received;
}

}  // namespace bridge::app
