#pragma once

#include <Poco/Net/HTTPServerRequest.h>

#include <atomic>
#include <chrono>

namespace bridge {

// How long a worker of `HttpListener` may still wait for the bytes of the request it serves. The listener arms it
// when it hands a complete request head to a worker and shuts the socket down once it has passed; the handler
// disarms it as soon as the body is read, so that the time a route takes (a Salesforce call) is never cut short.
class RequestReadDeadline {
public:
    using Clock = std::chrono::steady_clock;

    void arm(Clock::time_point at) { at_.store(at.time_since_epoch().count(), std::memory_order_relaxed); }
    void disarm() { at_.store(0, std::memory_order_relaxed); }
    bool passed(Clock::time_point now) const {
        const auto at = at_.load(std::memory_order_relaxed);
        return at != 0 && now.time_since_epoch().count() > at;
    }

    // The deadline of the connection `request` arrived on, or null when no HttpListener serves it (a plain Poco
    // HTTPServer, as in the benchmark's bare handler).
    static RequestReadDeadline* of(Poco::Net::HTTPServerRequest& request);

private:
    std::atomic<Clock::rep> at_{0};
};

}  // namespace bridge
