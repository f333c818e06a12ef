#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace bridge {

// Counters and latency histograms in Prometheus text format. Labels name families, routes, outcomes and
// results only: never an organization, a user or a token. Updating is lock-free once a series exists.
class Metrics {
public:
    class Counter {
    public:
        void increment(std::uint64_t by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
        std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

    private:
        std::atomic<std::uint64_t> value_{0};
    };

    class Histogram {
    public:
        static constexpr std::array<double, 10> kBucketsSeconds{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                                0.025,  0.05,  0.1,    0.5,   2.5};
        void observe(double seconds);

    private:
        friend class Metrics;
        std::array<std::atomic<std::uint64_t>, kBucketsSeconds.size()> buckets_{};
        std::atomic<std::uint64_t> count_{0};
        std::atomic<std::uint64_t> sumMicros_{0};
    };

    // `labels` is the Prometheus label set without braces, e.g. `family="legacy",status="200"`.
    Counter& counter(const std::string& name, const std::string& labels);
    Histogram& histogram(const std::string& name, const std::string& labels);
    std::string render() const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::map<std::string, std::unique_ptr<Counter>>> counters_;
    std::map<std::string, std::map<std::string, std::unique_ptr<Histogram>>> histograms_;
};

}  // namespace bridge
