#pragma once

namespace bridge::app {

// serve and demo stop when SIGINT or SIGTERM arrives, taken by sigwait in the main thread.
//
// blockTerminationSignals must run before the process starts any thread (configuring the logs starts spdlog's
// flusher): every thread inherits the mask, and a thread that does not block the signals would take one whenever
// the main thread is not yet waiting, whose default action ends the process at once, with no drain.
void blockTerminationSignals();

// Waits until SIGINT or SIGTERM arrives (blocked beforehand) and returns its number.
int waitForTerminationSignal();

}  // namespace bridge::app
