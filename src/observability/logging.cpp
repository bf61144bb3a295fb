#include "observability/logging.hpp"

#include <array>
#include <cerrno>
#include <ctime>
#include <memory>
#include <mutex>
#include <stdexcept>

#include <spdlog/details/log_msg.h>
#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

namespace svc::obs {

namespace {

constexpr std::array<std::string_view, 7> k_levels = {
    "trace", "debug", "info", "warn", "error", "critical", "off"};
constexpr std::size_t k_flush_threshold_bytes = 32 * 1024;

// Writes formatted lines to a file descriptor through a buffer, so a busy server does one
// write(2) per ~32 KiB instead of one per line. Warnings and worse are written at once.
class buffered_fd_sink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    explicit buffered_fd_sink(int fd) : fd_(fd) { buffer_.reserve(2 * k_flush_threshold_bytes); }
    ~buffered_fd_sink() override { write_all(); }
    buffered_fd_sink(const buffered_fd_sink&) = delete;
    buffered_fd_sink& operator=(const buffered_fd_sink&) = delete;

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t formatted;
        formatter_->format(msg, formatted);
        buffer_.append(formatted.data(), formatted.size());
        if (buffer_.size() >= k_flush_threshold_bytes || msg.level >= spdlog::level::warn) write_all();
    }
    void flush_() override { write_all(); }

private:
    void write_all() {
        std::size_t written = 0;
        while (written < buffer_.size()) {
            const auto n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;  // nowhere to report a failing log stream; drop the rest
            written += static_cast<std::size_t>(n);
        }
        buffer_.clear();
    }

    int fd_;
    std::string buffer_;  // guarded by base_sink's mutex
};

void append_timestamp(std::string& out, std::chrono::system_clock::time_point time) {
    const auto since_epoch = time.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since_epoch - seconds).count();
    const std::time_t t = seconds.count();
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buffer[40];
    const auto n = std::snprintf(
        buffer,
        sizeof buffer,
        "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        static_cast<long>(micros)
    );
    out.append(buffer, static_cast<std::size_t>(n));
}

// {"ts":…,"level":…,"logger":…,"msg":…} for ordinary log lines. Access lines arrive already
// formatted as the members after "logger" (see log_access) and are written as they are.
class json_formatter final : public spdlog::formatter {
public:
    explicit json_formatter(bool payload_is_json) : payload_is_json_(payload_is_json) {}

    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        std::string line;
        line.reserve(160 + msg.payload.size());
        line += R"({"ts":")";
        append_timestamp(line, msg.time);
        line += R"(","level":")";
        const auto level = spdlog::level::to_string_view(msg.level);
        line.append(level.data(), level.size());
        line += R"(","logger":")";
        append_json_escaped(line, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
        line += '"';
        const std::string_view payload(msg.payload.data(), msg.payload.size());
        if (payload_is_json_) {
            line += ',';
            line += payload;
        } else {
            line += R"(,"msg":")";
            append_json_escaped(line, payload);
            line += '"';
        }
        line += "}\n";
        dest.append(line.data(), line.data() + line.size());
    }

    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<json_formatter>(payload_is_json_);
    }

private:
    bool payload_is_json_;
};

std::shared_ptr<spdlog::logger> g_access_logger;  // set once by init_logging, before any request
log_format g_format = log_format::json;

// Length of the well-formed UTF-8 sequence at the start of `text`, or 0 when it is not one
// (overlong forms, surrogates and code points above U+10FFFF are not well-formed).
std::size_t utf8_sequence_length(std::string_view text) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(0);
    std::size_t length = 0;
    unsigned char min_second = 0x80;
    unsigned char max_second = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) min_second = 0xA0;
        if (lead == 0xED) max_second = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) min_second = 0x90;
        if (lead == 0xF4) max_second = 0x8F;
    } else {
        return 0;
    }
    if (text.size() < length || byte(1) < min_second || byte(1) > max_second) return 0;
    for (std::size_t i = 2; i < length; ++i) {
        if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
    }
    return length;
}

}  // namespace

log_format parse_log_format(std::string_view text) {
    if (text == "json") return log_format::json;
    if (text == "text") return log_format::text;
    throw std::invalid_argument("must be json or text");
}

void validate_log_level(std::string_view level) {
    for (const auto known : k_levels) {
        if (level == known) return;
    }
    throw std::invalid_argument("must be one of trace, debug, info, warn, error, critical, off");
}

void init_logging(const logging_options& options) {
    validate_log_level(options.level);
    g_format = options.format;
    const auto level = spdlog::level::from_str(options.level);

    auto app_sink = std::make_shared<buffered_fd_sink>(STDERR_FILENO);
    auto access_sink = std::make_shared<buffered_fd_sink>(STDOUT_FILENO);
    if (options.format == log_format::json) {
        app_sink->set_formatter(std::make_unique<json_formatter>(false));
        access_sink->set_formatter(std::make_unique<json_formatter>(true));
    } else {
        app_sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
            "%Y-%m-%dT%H:%M:%S.%fZ %l %n: %v", spdlog::pattern_time_type::utc
        ));
        access_sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
            "%Y-%m-%dT%H:%M:%S.%fZ %l access: %v", spdlog::pattern_time_type::utc
        ));
    }

    auto app_logger = std::make_shared<spdlog::logger>("orders-service", app_sink);
    app_logger->set_level(level);
    app_logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(app_logger);

    if (options.access_log) {
        auto access_logger = std::make_shared<spdlog::logger>("access", access_sink);
        access_logger->set_level(level);
        spdlog::drop("access");
        spdlog::register_logger(access_logger);
        g_access_logger = std::move(access_logger);
    } else {
        g_access_logger.reset();
    }
    // Bounds how long a line can sit in a buffer on a quiet server.
    spdlog::flush_every(std::chrono::seconds(1));
}

void flush_logs() {
    spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& logger) { logger->flush(); });
}

void log_access(const access_entry& entry) {
    const auto& logger = g_access_logger;
    if (!logger || !logger->should_log(spdlog::level::info)) return;
    thread_local std::string line;
    line.clear();
    const double duration_ms = static_cast<double>(entry.duration.count()) / 1e6;
    char number[32];
    if (g_format == log_format::json) {
        line += R"("msg":"request","request_id":")";
        append_json_escaped(line, entry.request_id);
        line += R"(","method":")";
        append_json_escaped(line, entry.method);
        line += R"(","route":")";
        append_json_escaped(line, entry.route);
        line += R"(","target":")";
        append_json_escaped(line, entry.target);
        line += R"(","status":)";
        line += std::to_string(entry.status);
        const auto n = std::snprintf(number, sizeof number, "%.3f", duration_ms);
        line += R"(,"duration_ms":)";
        line.append(number, static_cast<std::size_t>(n));
        line += R"(,"peer":")";
        append_json_escaped(line, entry.peer);
        line += '"';
    } else {
        const auto n = std::snprintf(number, sizeof number, "%.3fms", duration_ms);
        line += entry.method;
        line += ' ';
        append_json_escaped(line, entry.target);  // keeps control characters out of the log
        line += " route=";
        line += entry.route;
        line += " status=";
        line += std::to_string(entry.status);
        line += " duration=";
        line.append(number, static_cast<std::size_t>(n));
        line += " request_id=";
        append_json_escaped(line, entry.request_id);
        line += " peer=";
        line += entry.peer;
    }
    logger->log(spdlog::level::info, spdlog::string_view_t(line.data(), line.size()));
}

void append_json_escaped(std::string& out, std::string_view text) {
    static constexpr char k_hex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            const auto length = utf8_sequence_length(text.substr(i));
            if (length == 0) {
                out += "\\ufffd";
                ++i;
            } else {
                out.append(text.substr(i, length));
                i += length;
            }
            continue;
        }
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out += "\\u00";
                    out += k_hex[c >> 4];
                    out += k_hex[c & 0xf];
                } else {
                    out += static_cast<char>(c);
                }
        }
        ++i;
    }
}

}  // namespace svc::obs
