#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string_view>

#include "bridge/base/Config.h"

namespace bridge {

// One named logger per component ("http", "store", "broker", "salesforce", "oauth", "migrate", ...), all writing
// to standard error in the configured format. Nothing that logs may pass a token to a logger.
std::shared_ptr<spdlog::logger> logger(std::string_view component);

// Sets the level and the format (text, or one JSON object per line) of every logger, present and future.
void configureLogging(const LogConfig& config);

}  // namespace bridge
