#include "bridge/base/Logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
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

// Standard error, written in large pieces: a request log line per request would otherwise cost a write(2) and a
// flush each, which on a busy server is most of the time a fast request takes. Lines at warn and above are
// written at once, the rest within a second (the flusher below) or when 64 KiB have gathered.
class BufferedStderrSink : public spdlog::sinks::base_sink<std::mutex> {
public:
    ~BufferedStderrSink() override { flush_(); }

protected:
    void sink_it_(const spdlog::details::log_msg& message) override {
        spdlog::memory_buf_t formatted;
        formatter_->format(message, formatted);
        pending_.append(formatted.data(), formatted.size());
        if (pending_.size() >= kFlushBytes) flush_();
    }

    void flush_() override {
        std::size_t written = 0;
        while (written < pending_.size()) {
            const ssize_t result = ::write(STDERR_FILENO, pending_.data() + written, pending_.size() - written);
            if (result <= 0) break;  // nowhere to log to: drop rather than block the server
            written += static_cast<std::size_t>(result);
        }
        pending_.clear();
    }

private:
    static constexpr std::size_t kFlushBytes = 64 * 1024;
    std::string pending_;
};

std::shared_ptr<BufferedStderrSink> sharedSink() {
    static const auto sink = std::make_shared<BufferedStderrSink>();
    return sink;
}

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
    auto created = std::make_shared<spdlog::logger>(name, sharedSink());
    created->flush_on(spdlog::level::warn);
    applyConfig(*created, activeConfig);
    spdlog::register_logger(created);
    return created;
}

void configureLogging(const LogConfig& config) {
    static const bool flusherStarted = [] {
        spdlog::flush_every(std::chrono::seconds(1));
        return true;
    }();
    (void)flusherStarted;
    std::lock_guard lock(configurationMutex);
    activeConfig = config;
    spdlog::apply_all([&config](const std::shared_ptr<spdlog::logger>& each) { applyConfig(*each, config); });
}

}  // namespace bridge
