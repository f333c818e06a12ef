#pragma once

#include <future>
#include <latch>
#include <type_traits>
#include <vector>

namespace bridge::testsupport {

// Runs work(0) ... work(count - 1) on `count` threads released at the same moment; the results in that order.
template <typename Work>
auto runTogether(int count, Work work) {
    using Result = std::invoke_result_t<Work&, int>;
    std::latch start(count);
    std::vector<std::future<Result>> futures;
    for (int index = 0; index < count; ++index) {
        futures.push_back(std::async(std::launch::async, [&start, &work, index] {
            start.arrive_and_wait();
            return work(index);
        }));
    }
    std::vector<Result> results;
    for (auto& future : futures) results.push_back(future.get());
    return results;
}

}  // namespace bridge::testsupport
