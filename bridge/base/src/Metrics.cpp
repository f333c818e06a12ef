#include "bridge/base/Metrics.h"

#include <sstream>
#include <string>

namespace bridge {

void Metrics::Histogram::observe(double seconds) {
    for (std::size_t i = 0; i < kBucketsSeconds.size(); ++i) {
        if (seconds <= kBucketsSeconds[i]) {
            buckets_[i].fetch_add(1, std::memory_order_relaxed);
            break;
        }
    }
    count_.fetch_add(1, std::memory_order_relaxed);
    sumMicros_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

Metrics::Counter& Metrics::counter(const std::string& name, const std::string& labels) {
    std::lock_guard lock(mutex_);
    auto& slot = counters_[name][labels];
    if (!slot) slot = std::make_unique<Counter>();
    return *slot;
}

Metrics::Histogram& Metrics::histogram(const std::string& name, const std::string& labels) {
    std::lock_guard lock(mutex_);
    auto& slot = histograms_[name][labels];
    if (!slot) slot = std::make_unique<Histogram>();
    return *slot;
}

std::string Metrics::render() const {
    std::lock_guard lock(mutex_);
    std::ostringstream out;
    for (const auto& [name, series] : counters_) {
        out << "# TYPE " << name << " counter\n";
        for (const auto& [labels, counter] : series) out << name << '{' << labels << "} " << counter->value() << '\n';
    }
    for (const auto& [name, series] : histograms_) {
        out << "# TYPE " << name << " histogram\n";
        for (const auto& [labels, histogram] : series) {
            const std::string separator = labels.empty() ? "" : ",";
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i < Histogram::kBucketsSeconds.size(); ++i) {
                cumulative += histogram->buckets_[i].load(std::memory_order_relaxed);
                out << name << "_bucket{" << labels << separator << "le=\"" << Histogram::kBucketsSeconds[i] << "\"} "
                    << cumulative << '\n';
            }
            const auto count = histogram->count_.load(std::memory_order_relaxed);
            out << name << "_bucket{" << labels << separator << "le=\"+Inf\"} " << count << '\n';
            // Fixed-point: the stream's default 6 significant digits would blur the sum of a long-running server.
            out << name << "_sum{" << labels << "} "
                << std::to_string(histogram->sumMicros_.load(std::memory_order_relaxed) / 1e6) << '\n';
            out << name << "_count{" << labels << "} " << count << '\n';
        }
    }
    return out.str();
}

}  // namespace bridge
