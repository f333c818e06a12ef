#include "bridge/Logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace bridge {

namespace {

// Writes the message as the body of a JSON string, so that a log line stays one valid JSON object whatever the
// message holds (quotes, newlines, names in any script).
class JsonEscapedMessage : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& message, const std::tm&, spdlog::memory_buf_t& out) override {
        for (char c : std::string_view(message.payload.data(), message.payload.size())) {
            switch (c) {
                case '"': out.append(std::string_view("\\\"")); break;
                case '\\': out.append(std::string_view("\\\\")); break;
                case '\n': out.append(std::string_view("\\n")); break;
                case '\r': out.append(std::string_view("\\r")); break;
                case '\t': out.append(std::string_view("\\t")); break;
                default:
                    if (static_cast<unsigned char>(c) < 0x20) {
                        constexpr char hex[] = "0123456789abcdef";
                        const char escaped[] = {'\\', 'u', '0', '0', hex[(c >> 4) & 0xF], hex[c & 0xF]};
                        out.append(escaped, escaped + sizeof escaped);
                    } else {
                        out.push_back(c);
                    }
            }
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonEscapedMessage>(); }
};

std::mutex configurationMutex;
LogConfig activeConfig;

std::unique_ptr<spdlog::formatter> makeFormatter(const LogConfig& config) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    if (config.format == "json") {
        formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","message":"%*"})");
    } else {
        formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v");
    }
    return formatter;
}

void applyConfig(spdlog::logger& target, const LogConfig& config) {
    target.set_level(spdlog::level::from_str(config.level));
    target.set_formatter(makeFormatter(config));
}

}  // namespace

std::shared_ptr<spdlog::logger> logger(std::string_view component) {
    const std::string name(component);
    if (auto existing = spdlog::get(name)) return existing;
    std::lock_guard lock(configurationMutex);
    if (auto existing = spdlog::get(name)) return existing;
    auto created = std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
    applyConfig(*created, activeConfig);
    spdlog::register_logger(created);
    return created;
}

void configureLogging(const LogConfig& config) {
    std::lock_guard lock(configurationMutex);
    activeConfig = config;
    spdlog::apply_all([&config](const std::shared_ptr<spdlog::logger>& each) { applyConfig(*each, config); });
}

}  // namespace bridge
