#include "bridge/base/Logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <mutex>

namespace bridge {

namespace {

// Appends `text` with every control character escaped as JSON writes it (\n, \r, \t, \u00XX, and DEL as
// \u007f), and the backslash doubled, so that nothing a client or Salesforce sent (a method, an error_description,
// a database's message) can start a line of its own or pass for an escape. In JSON, quotes are escaped as well.
void appendEscaped(std::string_view text, bool escapeQuotes, spdlog::memory_buf_t& out) {
    constexpr char hex[] = "0123456789abcdef";
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        switch (c) {
            case '"':
                if (escapeQuotes) {
                    out.append(std::string_view("\\\""));
                } else {
                    out.push_back(c);
                }
                break;
            case '\\': out.append(std::string_view("\\\\")); break;
            case '\n': out.append(std::string_view("\\n")); break;
            case '\r': out.append(std::string_view("\\r")); break;
            case '\t': out.append(std::string_view("\\t")); break;
            default:
                if (byte < 0x20 || byte == 0x7f) {
                    const char escaped[] = {'\\', 'u', '0', '0', hex[(byte >> 4) & 0xF], hex[byte & 0xF]};
                    out.append(escaped, escaped + sizeof escaped);
                } else {
                    out.push_back(c);
                }
        }
    }
}

// The message as the body of a JSON string, so that a log line stays one valid JSON object whatever the message
// holds (quotes, newlines, names in any script).
class JsonEscapedMessage : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& message, const std::tm&, spdlog::memory_buf_t& out) override {
        appendEscaped(std::string_view(message.payload.data(), message.payload.size()), true, out);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonEscapedMessage>(); }
};

// The message of a text line: one event per line, whatever the message holds.
class TextEscapedMessage : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& message, const std::tm&, spdlog::memory_buf_t& out) override {
        appendEscaped(std::string_view(message.payload.data(), message.payload.size()), false, out);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<TextEscapedMessage>(); }
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
        formatter->add_flag<TextEscapedMessage>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %*");
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
