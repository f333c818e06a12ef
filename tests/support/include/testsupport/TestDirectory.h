#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace bridge::testsupport {

// An empty directory of the running test's own, "<temporary directory>/<prefix>-<pid>-<test name>"; what an
// earlier run may have left there is removed first.
inline std::filesystem::path freshTestDirectory(const std::string& prefix) {
    const std::filesystem::path directory =
        std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(::getpid()) + "-" +
                                                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory);
    std::filesystem::create_directories(directory);
    return directory;
}

}  // namespace bridge::testsupport
