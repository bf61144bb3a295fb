#pragma once
// The service's settings: every one comes from an environment variable and from a matching
// command-line flag (the flag wins), parsed by CLI11 in config.cpp. Each module declares its
// own options struct with its defaults (http::server_options, obs::logging_options, ...);
// this file gathers them, plus the few settings of the whole process (DATA_DIR, THREADS,
// the Idempotency-Key purge interval). docs/CONFIGURATION.md lists every setting.

#include <chrono>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>

#include "app/auth_setup.hpp"
#include "db/options.hpp"
#include "http/server.hpp"
#include "observability/logging.hpp"

namespace svc::app {

struct config {
    http::server_options http;     // HOST, PORT, limits, timeouts, SHUTDOWN_GRACE_SECONDS
    obs::logging_options logging;  // LOG_LEVEL, LOG_FORMAT, ACCESS_LOG
    std::string data_dir = ".";    // DATA_DIR: the embedded SQLite database and the dev JWT secret
    // THREADS: event loops. parse_command_line starts from default_thread_count(); a config
    // built otherwise keeps 0, which runtime::event_loops raises to one loop.
    std::size_t threads = 0;
    app::auth_settings auth;  // JWT_* (docs/AUTH.md)
    db::options db;           // DATABASE_URL, DB_*, MIGRATE/--no-migrate (docs/DATABASE.md)
    // IDEMPOTENCY_PURGE_INTERVAL_SECONDS: between two purges of expired Idempotency-Keys; 0 = never.
    std::chrono::seconds idempotency_purge_interval{300};
    // A new module's options struct goes here too, its flags wired in config.cpp.
};

enum class command { serve, version, healthcheck, token, openapi, migrate };

struct invocation {
    app::command command = command::serve;
    app::config config;
    app::token_request token;  // for command::token
};

// What parse_command_line decided: run `invocation`, or exit at once with `exit_code`
// (0 after --help / --version output, 2 after a bad value or an unknown argument).
struct parse_result {
    std::optional<app::invocation> invocation;
    int exit_code = 0;
};

// Parses `argv` and the process environment; a flag wins over its variable, and settings
// may come before or after the subcommand. Help and --version go to `out`; an error is ONE
// line on `err`, "orders-service: " and CLI11's message naming the flag or the value
// ("--port: Value abc not in range 0 to 65535"). Pure apart from reading the environment.
parse_result parse_command_line(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

// The number of event loops to run by default: the CPUs this process may use — its affinity
// capped by its cgroup's CPU quota, rounded up (runtime/cpu_budget.hpp), at least 1.
std::size_t default_thread_count();

// The DATABASE_URL in effect (`cfg.db.url`).
std::string database_url(const config& cfg);

}  // namespace svc::app
