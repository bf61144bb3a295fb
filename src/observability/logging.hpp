#pragma once
// Logging set-up and the per-request access log, on spdlog.
//
// init_logging() configures spdlog's default logger, so every module logs with plain
// `spdlog::info(...)` / `spdlog::warn(...)`; those lines go to stderr. With format json each
// line is one JSON object {"ts","level","logger","msg"}. The access log (log_access) bypasses
// spdlog: one line per request on stdout, appended to a per-thread buffer that is written when
// it fills (32 KiB), once per second, and on flush_logs() — so event loops never wait for
// each other or pay a write(2) per request, and lines never interleave.
// Never log secrets: no Authorization header, no token, no request body.

#include <chrono>
#include <string>
#include <string_view>

namespace svc::obs {

enum class log_format { json, text };

struct logging_options {
    std::string level = "info";  // trace|debug|info|warn|error|critical|off
    log_format format = log_format::json;
    bool access_log = true;  // one line per request
};

// Parses "json"/"text"; throws std::invalid_argument otherwise.
log_format parse_log_format(std::string_view text);
// Throws std::invalid_argument unless `level` is one of logging_options::level's values.
void validate_log_level(std::string_view level);

// Installs the default logger and the access logger. Call once at start-up, before the event
// loops run (not thread-safe against concurrent logging).
void init_logging(const logging_options& options);

// Writes everything buffered so far. Thread-safe; call before exit.
void flush_logs();

// One request, as the access log records it.
struct access_entry {
    std::string_view request_id;
    std::string_view method;
    std::string_view route;   // the route template, or "unmatched"
    std::string_view target;  // the raw request-target (path and query), for humans
    unsigned status = 0;
    std::chrono::nanoseconds duration{};
    std::string_view peer;  // client address
};

// Logs one access line (no-op when the access log is off). Thread-safe.
void log_access(const access_entry& entry);

// Escapes `text` as the inside of a JSON string (quotes, backslash, control characters;
// invalid UTF-8 bytes become U+FFFD) and appends it to `out`.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace svc::obs
