#include "observability/logging.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <ctime>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <thread>
#include <vector>

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
constexpr std::size_t k_flush_threshold_bytes = std::size_t{32} * 1024;

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
        if (buffer_.size() >= k_flush_threshold_bytes || msg.level >= spdlog::level::warn) {
            write_all();
        }
    }
    void flush_() override { write_all(); }

private:
    void write_all() {
        std::size_t written = 0;
        while (written < buffer_.size()) {
            const auto n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;  // nowhere to report a failing log stream; drop the rest
            }
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

// ---- The access log: one buffer per thread, so event loops never wait for each other ----
//
// A line is appended to the calling thread's buffer (its mutex is uncontended except during a
// flush); a buffer over k_flush_threshold_bytes is handed to write(2) whole, under a mutex
// held only for that write, so lines of different threads never interleave even on a pipe.
// A background thread flushes every buffer once per second; flush_logs() does it at exit.
struct access_buffer {
    std::mutex mutex;
    std::string data;  // complete lines; guarded by mutex
};

class access_log_writer {
public:
    access_buffer& this_thread_buffer() {
        thread_local std::shared_ptr<access_buffer> buffer = register_buffer();
        return *buffer;
    }

    void append(std::string_view line) {
        auto& buffer = this_thread_buffer();
        std::string full;
        {
            const std::scoped_lock lock(buffer.mutex);
            buffer.data += line;
            if (buffer.data.size() < k_flush_threshold_bytes) {
                return;
            }
            full.swap(buffer.data);
            buffer.data.reserve(k_flush_threshold_bytes + 4096);
        }
        write(full);
    }

    void flush() {
        std::vector<std::shared_ptr<access_buffer>> buffers;
        {
            const std::scoped_lock lock(registry_mutex_);
            buffers = buffers_;
        }
        for (const auto& buffer : buffers) {
            std::string pending;
            {
                const std::scoped_lock lock(buffer->mutex);
                pending.swap(buffer->data);
            }
            write(pending);
        }
    }

    // Starts the once-a-second flusher (idempotent).
    void start_flusher() {
        const std::scoped_lock lock(registry_mutex_);
        if (flusher_.joinable()) {
            return;
        }
        flusher_ = std::jthread([this](const std::stop_token& stop) {
            std::mutex wait_mutex;
            std::condition_variable_any wake;
            std::unique_lock wait_lock(wait_mutex);
            while (!wake.wait_for(wait_lock, stop, std::chrono::seconds(1), [] { return false; })) {
                if (stop.stop_requested()) {
                    break;
                }
                flush();
            }
        });
    }

    ~access_log_writer() {
        if (flusher_.joinable()) {
            flusher_.request_stop();
            flusher_.join();
        }
        flush();
    }

private:
    std::shared_ptr<access_buffer> register_buffer() {
        auto buffer = std::make_shared<access_buffer>();
        buffer->data.reserve(k_flush_threshold_bytes + 4096);
        const std::scoped_lock lock(registry_mutex_);
        buffers_.push_back(buffer);
        return buffer;
    }

    void write(const std::string& chunk) {
        if (chunk.empty()) {
            return;
        }
        const std::scoped_lock lock(write_mutex_);
        std::size_t written = 0;
        while (written < chunk.size()) {
            const auto n = ::write(STDOUT_FILENO, chunk.data() + written, chunk.size() - written);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;  // nowhere to report a failing log stream; drop the rest
            }
            written += static_cast<std::size_t>(n);
        }
    }

    std::mutex registry_mutex_;
    std::vector<std::shared_ptr<access_buffer>> buffers_;  // guarded by registry_mutex_; only grows
    std::mutex write_mutex_;                               // one write(2) at a time
    std::jthread flusher_;                                 // guarded by registry_mutex_ when started
};

access_log_writer& access_writer() {
    static access_log_writer instance;
    return instance;
}

std::atomic<bool> g_access_enabled{false};  // set by init_logging before any request

// "2026-12-01T08:00:00" for the current second, formatted once per second per thread.
void append_utc_timestamp_now(std::string& out) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now - seconds).count();
    thread_local std::int64_t cached_second = -1;
    thread_local char cached[24] = {};
    if (seconds.count() != cached_second) {
        const std::time_t t = seconds.count();
        std::tm tm{};
        ::gmtime_r(&t, &tm);
        std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
        cached_second = seconds.count();
    }
    out += cached;
    char fraction[8] = {'.', '0', '0', '0', '0', '0', '0', 'Z'};
    auto value = static_cast<std::int64_t>(micros);
    for (int i = 6; i >= 1; --i) {
        fraction[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
    out.append(fraction, sizeof fraction);
}

// Milliseconds with three decimals, without printf.
void append_millis(std::string& out, std::chrono::nanoseconds duration) {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
    out += std::to_string(micros / 1000);
    const auto rest = micros % 1000;
    out += '.';
    out += static_cast<char>('0' + rest / 100);
    out += static_cast<char>('0' + rest / 10 % 10);
    out += static_cast<char>('0' + rest % 10);
}
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
        if (lead == 0xE0) {
            min_second = 0xA0;
        }
        if (lead == 0xED) {
            max_second = 0x9F;
        }
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) {
            min_second = 0x90;
        }
        if (lead == 0xF4) {
            max_second = 0x8F;
        }
    } else {
        return 0;
    }
    if (text.size() < length || byte(1) < min_second || byte(1) > max_second) {
        return 0;
    }
    for (std::size_t i = 2; i < length; ++i) {
        if (byte(i) < 0x80 || byte(i) > 0xBF) {
            return 0;
        }
    }
    return length;
}

}  // namespace

log_format parse_log_format(std::string_view text) {
    if (text == "json") {
        return log_format::json;
    }
    if (text == "text") {
        return log_format::text;
    }
    throw std::invalid_argument("must be json or text");
}

void validate_log_level(std::string_view level) {
    for (const auto known : k_levels) {
        if (level == known) {
            return;
        }
    }
    throw std::invalid_argument("must be one of trace, debug, info, warn, error, critical, off");
}

void init_logging(const logging_options& options) {
    validate_log_level(options.level);
    g_format = options.format;
    const auto level = spdlog::level::from_str(options.level);

    auto app_sink = std::make_shared<buffered_fd_sink>(STDERR_FILENO);
    if (options.format == log_format::json) {
        app_sink->set_formatter(std::make_unique<json_formatter>(false));
    } else {
        app_sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
            "%Y-%m-%dT%H:%M:%S.%fZ %l %n: %v", spdlog::pattern_time_type::utc
        ));
    }

    auto app_logger = std::make_shared<spdlog::logger>("orders-service", app_sink);
    app_logger->set_level(level);
    app_logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(app_logger);

    // The access log is at level info: a higher LOG_LEVEL silences it as well.
    const bool access = options.access_log && level <= spdlog::level::info;
    g_access_enabled.store(access, std::memory_order_release);
    if (access) {
        access_writer().start_flusher();
    }
    // Bounds how long a line can sit in a buffer on a quiet server.
    spdlog::flush_every(std::chrono::seconds(1));
}

void flush_logs() {
    spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& logger) { logger->flush(); });
    access_writer().flush();
}

void log_access(const access_entry& entry) {
    if (!g_access_enabled.load(std::memory_order_relaxed)) {
        return;
    }
    thread_local std::string line;
    line.clear();
    if (g_format == log_format::json) {
        line += R"({"ts":")";
        append_utc_timestamp_now(line);
        line += R"(","level":"info","logger":"access","msg":"request","request_id":")";
        append_json_escaped(line, entry.request_id);
        line += R"(","method":")";
        append_json_escaped(line, entry.method);
        line += R"(","route":")";
        append_json_escaped(line, entry.route);
        line += R"(","target":")";
        append_json_escaped(line, entry.target);
        line += R"(","status":)";
        line += std::to_string(entry.status);
        line += R"(,"duration_ms":)";
        append_millis(line, entry.duration);
        line += R"(,"peer":")";
        append_json_escaped(line, entry.peer);
        line += "\"}\n";
    } else {
        append_utc_timestamp_now(line);
        line += " info access: ";
        line += entry.method;
        line += ' ';
        append_json_escaped(line, entry.target);  // keeps control characters out of the log
        line += " route=";
        line += entry.route;
        line += " status=";
        line += std::to_string(entry.status);
        line += " duration=";
        append_millis(line, entry.duration);
        line += "ms request_id=";
        append_json_escaped(line, entry.request_id);
        line += " peer=";
        line += entry.peer;
        line += '\n';
    }
    access_writer().append(line);
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
