#include "app/config.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <boost/asio/ip/address.hpp>

#include "db/database_url.hpp"
#include "db/options.hpp"
#include "runtime/cpu_budget.hpp"

namespace svc::app {

namespace {

constexpr std::string_view k_program = "orders-service";

// A duration given in (possibly fractional) seconds, e.g. SHUTDOWN_GRACE_SECONDS=0.5.
struct seconds_setting {
    double seconds;
    std::chrono::milliseconds* target;
    std::string name;
};

std::string one_line(std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    while (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

// Adds `--flag` with environment variable `env`, its default shown in --help.
template <class T>
CLI::Option* add_setting(
    CLI::App& cli, const std::string& flag, const std::string& env, T& value, const std::string& help
) {
    return cli.add_option(flag, value, help)->envname(env)->capture_default_str();
}

// Adds a duration setting in (fractional) seconds, from 1 ms to `max_seconds`; its value is
// converted into `target` once parsing succeeded (see `durations` in parse_command_line).
void add_seconds_setting(
    CLI::App& cli,
    std::deque<seconds_setting>& durations,
    const std::string& flag,
    const std::string& env,
    std::chrono::milliseconds& target,
    const std::string& help,
    double max_seconds = 86'400.0
) {
    durations.push_back({std::chrono::duration<double>(target).count(), &target, flag + " (" + env + ")"});
    cli.add_option(flag, durations.back().seconds, help)
        ->envname(env)
        ->capture_default_str()
        ->check(CLI::Range(0.001, max_seconds));
}

void add_http_options(CLI::App& cli, http::server_options& http, std::deque<seconds_setting>& durations) {
    add_setting(cli, "--host", "HOST", http.host, "Address to listen on (IPv4 or IPv6 literal)")
        ->check([](const std::string& value) -> std::string {
            boost::system::error_code ec;
            boost::asio::ip::make_address(value, ec);
            return ec ? "not an IP address: " + value : std::string();
        });
    add_setting(cli, "--port", "PORT", http.port, "TCP port to listen on (0: any free port)")
        ->check(CLI::Range(0, 65535));
    add_setting(
        cli,
        "--max-header-bytes",
        "MAX_HEADER_BYTES",
        http.max_header_bytes,
        "Request line + headers limit; over it: 431"
    )
        ->check(CLI::Range(std::size_t{1024}, std::size_t{1024} * 1024));
    add_setting(
        cli, "--max-body-bytes", "MAX_BODY_BYTES", http.max_body_bytes, "Request body limit; over it: 413"
    )
        ->check(CLI::Range(std::size_t{1}, std::size_t{1024} * 1024 * 1024));
    add_setting(
        cli,
        "--max-connections",
        "MAX_CONNECTIONS",
        http.max_connections,
        "Open connections limit; more are closed at once"
    )
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    add_setting(
        cli,
        "--max-connections-per-peer",
        "MAX_CONNECTIONS_PER_PEER",
        http.max_connections_per_peer,
        "Open connections limit per client address (0: none); more are closed at once"
    )
        ->check(CLI::Range(std::size_t{0}, std::size_t{1'000'000}));
    cli.add_option_function<int>(
           "--admin-port",
           [&http](int port) { http.admin_port = static_cast<std::uint16_t>(port); },
           "Port of a second listener serving only /health, /ready and /metrics (unset: none)"
    )
        ->envname("ADMIN_PORT")
        ->check(CLI::Range(0, 65535));
    add_setting(
        cli,
        "--rate-limit-per-second",
        "RATE_LIMIT_PER_SECOND",
        http.rate_limit.per_second,
        "Requests per second per client (token sub) on authenticated routes, per replica (0: off); over it: "
        "429"
    )
        ->check(CLI::Range(0.0, 1'000'000.0));
    add_setting(
        cli,
        "--rate-limit-burst",
        "RATE_LIMIT_BURST",
        http.rate_limit.burst,
        "Requests a client may send at once before the rate applies (0: the rate, at least 1)"
    )
        ->check(CLI::Range(0.0, 1'000'000.0));

    add_seconds_setting(
        cli,
        durations,
        "--header-timeout-seconds",
        "HEADER_TIMEOUT_SECONDS",
        http.header_timeout,
        "Time a client has to send a request's headers (from its first byte); then dropped"
    );
    add_seconds_setting(
        cli,
        durations,
        "--first-request-timeout-seconds",
        "FIRST_REQUEST_TIMEOUT_SECONDS",
        http.first_request_timeout,
        "Time a new connection has to send its first request's headers; then dropped"
    );
    add_seconds_setting(
        cli,
        durations,
        "--body-timeout-seconds",
        "BODY_TIMEOUT_SECONDS",
        http.body_timeout,
        "Time a client has to send a request body; then dropped"
    );
    add_seconds_setting(
        cli,
        durations,
        "--idle-timeout-seconds",
        "IDLE_TIMEOUT_SECONDS",
        http.idle_timeout,
        "Keep-alive connections idle longer are closed"
    );
    add_seconds_setting(
        cli,
        durations,
        "--write-timeout-seconds",
        "WRITE_TIMEOUT_SECONDS",
        http.write_timeout,
        "Time to write one response to a slow reader; then dropped"
    );
    add_seconds_setting(
        cli,
        durations,
        "--shutdown-grace-seconds",
        "SHUTDOWN_GRACE_SECONDS",
        http.shutdown_grace,
        "On SIGTERM/SIGINT, how long requests in flight may finish"
    );
}

void add_logging_options(CLI::App& cli, obs::logging_options& logging, std::string& format) {
    add_setting(cli, "--log-level", "LOG_LEVEL", logging.level, "trace|debug|info|warn|error|critical|off")
        ->check([](const std::string& value) -> std::string {
            try {
                obs::validate_log_level(value);
                return {};
            } catch (const std::invalid_argument& e) {
                return e.what();
            }
        });
    add_setting(cli, "--log-format", "LOG_FORMAT", format, "json (one object per line) or text")
        ->check(CLI::IsMember({"json", "text"}));
    add_setting(
        cli, "--access-log", "ACCESS_LOG", logging.access_log, "Log one line per request (true/false)"
    );
}

// JWT_* settings (docs/AUTH.md). The allow-list and leeway go through plain values that are
// converted after parsing; a bad allow-list is refused by CLI11 like any other bad value.
void add_auth_options(CLI::App& cli, auth_settings& auth, std::string& algorithms, std::int64_t& leeway) {
    add_setting(
        cli, "--jwt-secret", "JWT_SECRET", auth.jwt.secret, "HS256 signing secret (32+ random bytes)"
    );
    add_setting(
        cli,
        "--jwt-previous-secret",
        "JWT_PREVIOUS_SECRET",
        auth.jwt.previous_secret,
        "Rotation: an HS256 secret still accepted after JWT_SECRET"
    );
    add_setting(
        cli,
        "--jwt-public-key-file",
        "JWT_PUBLIC_KEY_FILE",
        auth.public_key_file,
        "PEM public key or certificate for RS256 (RSA >= 2048) or ES256 (P-256)"
    );
    add_setting(
        cli,
        "--jwt-previous-public-key-file",
        "JWT_PREVIOUS_PUBLIC_KEY_FILE",
        auth.previous_public_key_file,
        "Rotation: a public key (same kind) still accepted after JWT_PUBLIC_KEY_FILE's"
    );
    add_setting(
        cli, "--jwt-algorithms", "JWT_ALGORITHMS", algorithms, "Allowed algorithms: HS256,RS256,ES256"
    )
        ->check([](const std::string& value) -> std::string {
            try {
                auth::parse_algorithm_list(value);
                return {};
            } catch (const auth::configuration_error& e) {
                return e.what();
            }
        });
    add_setting(
        cli, "--jwt-require-exp", "JWT_REQUIRE_EXP", auth.jwt.require_exp, "Refuse tokens without exp"
    );
    add_setting(
        cli, "--jwt-leeway-seconds", "JWT_LEEWAY_SECONDS", leeway, "Clock skew allowed for exp/nbf/iat"
    )
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{3600}));
    add_setting(
        cli, "--jwt-issuer", "JWT_ISSUER", auth.jwt.issuer, "Required iss claim (empty: not checked)"
    );
    add_setting(
        cli, "--jwt-audience", "JWT_AUDIENCE", auth.jwt.audience, "Required aud claim (empty: not checked)"
    );
    add_setting(
        cli,
        "--jwt-cache-entries",
        "JWT_CACHE_ENTRIES",
        auth.jwt.cache_entries,
        "Verified tokens remembered per event loop (0: off)"
    )
        ->check(CLI::Range(std::size_t{0}, std::size_t{100'000}));
}

// DATABASE_URL and the DB_* settings (docs/DATABASE.md). A malformed URL is refused here, in
// one line without its password, like any other bad value (exit 2).
void add_db_options(CLI::App& cli, db::options& db, std::deque<seconds_setting>& durations) {
    add_setting(
        cli,
        "--database-url",
        "DATABASE_URL",
        db.url,
        "sqlite://PATH (relative to DATA_DIR) or postgresql://..."
    )
        ->check([](const std::string& value) -> std::string {
            try {
                db::parse_database_url(value, ".");
                return {};
            } catch (const db::url_error& e) {
                return e.what();
            }
        });
    add_setting(
        cli, "--db-pool-size", "DB_POOL_SIZE", db.pool_size, "PostgreSQL connections kept (all loops)"
    )
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000}));
    add_setting(
        cli,
        "--db-max-overflow",
        "DB_MAX_OVERFLOW",
        db.max_overflow,
        "Extra connections under load (all loops)"
    )
        ->check(CLI::Range(std::size_t{0}, std::size_t{10'000}));
    add_setting(
        cli,
        "--db-write-concurrency",
        "DB_WRITE_CONCURRENCY",
        db.write_concurrency,
        "PostgreSQL write transactions in flight at once (all loops; 0: no limit); the rest queue"
    )
        ->check(CLI::Range(std::size_t{0}, std::size_t{10'000}));
    std::int64_t recycle = db.pool_recycle.count();
    cli.add_option_function<std::int64_t>(
           "--db-pool-recycle",
           [&db](std::int64_t seconds) { db.pool_recycle = std::chrono::seconds(seconds); },
           "Seconds after which a connection is closed instead of reused"
    )
        ->envname("DB_POOL_RECYCLE")
        ->default_str(std::to_string(recycle))
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{86'400} * 365));
    add_seconds_setting(
        cli,
        durations,
        "--db-pool-timeout",
        "DB_POOL_TIMEOUT",
        db.pool_timeout,
        "Seconds a request may wait for a database connection; then 503",
        3600.0
    );
    add_seconds_setting(
        cli,
        durations,
        "--db-overflow-idle-timeout",
        "DB_OVERFLOW_IDLE_TIMEOUT",
        db.overflow_idle_timeout,
        "Seconds a connection beyond DB_POOL_SIZE may stay idle before it is closed"
    );
    cli.add_option_function<std::int64_t>(
           "--db-statement-timeout-ms",
           [&db](std::int64_t ms) { db.statement_timeout = std::chrono::milliseconds(ms); },
           "Server-side statement timeout in ms (0: none)"
    )
        ->envname("DB_STATEMENT_TIMEOUT_MS")
        ->default_str(std::to_string(db.statement_timeout.count()))
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{86'400'000}));
    add_setting(
        cli,
        "--db-prepared-statements",
        "DB_PREPARED_STATEMENTS",
        db.prepared_statements,
        "Named prepared statements (false for PgBouncer transaction pooling)"
    );
    add_setting(
        cli,
        "--db-generic-plans",
        "DB_GENERIC_PLANS",
        db.generic_plans,
        "Writes and a user's pages reuse one plan per statement and connection (plan_cache_mode; PostgreSQL "
        "12+)"
    );
    add_setting(
        cli,
        "--db-sqlite-readers",
        "DB_SQLITE_READERS",
        db.sqlite_readers,
        "SQLite reader threads (plus one writer)"
    )
        ->check(CLI::Range(std::size_t{0}, std::size_t{64}));
    cli.add_flag(
           "--migrate,!--no-migrate", db.migrate, "Apply pending schema migrations at start (default true)"
    )
        ->envname("MIGRATE");
}

// CLI11 names a negatable flag `--migrate,--no-migrate{false}`, which reads as "default false";
// the help shows the names alone and says the default in the description.
class settings_formatter : public CLI::Formatter {
public:
    std::string make_option_name(const CLI::Option* opt, bool is_positional) const override {
        std::string name = CLI::Formatter::make_option_name(opt, is_positional);
        for (auto open = name.find('{'); open != std::string::npos; open = name.find('{', open)) {
            const auto close = name.find('}', open);
            if (close == std::string::npos) break;
            name.erase(open, close - open + 1);
        }
        return name;
    }
};

}  // namespace

std::string database_url(const config& cfg) {
    return cfg.db.url;
}

std::size_t default_thread_count() {
    return runtime::available_cpus();
}

parse_result parse_command_line(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
    invocation result;
    config& cfg = result.config;
    cfg.threads = default_thread_count();

    CLI::App cli{"orders-service: an order management HTTP service", std::string(k_program)};
    cli.formatter(std::make_shared<settings_formatter>());  // before the subcommands copy it
    cli.set_version_flag("--version", std::string(k_program) + " " ORDERS_VERSION);
    cli.require_subcommand(0, 1);
    cli.fallthrough();  // settings may come after the subcommand: `orders-service serve --port 9000`
    auto* serve = cli.add_subcommand("serve", "Run the HTTP service (the default)");
    auto* version = cli.add_subcommand("version", "Print the version and exit");
    auto* healthcheck = cli.add_subcommand(
        "healthcheck", "Exit 0 iff GET /health on HOST:PORT answers 200 within 2 s (for Docker HEALTHCHECK)"
    );
    auto* token = cli.add_subcommand(
        "token", "Print a dev token signed with JWT_SECRET or the embedded default's dev secret"
    );
    token->add_option("--sub", result.token.subject, "The token's subject (user id)")->required();
    token->add_option("--role", result.token.roles, "A role to grant, e.g. admin (repeatable)");
    token->add_option("--ttl", result.token.ttl_seconds, "Lifetime in seconds")
        ->capture_default_str()
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{366} * 24 * 3600));
    auto* openapi =
        cli.add_subcommand("openapi", "Print the OpenAPI 3.1 document (JSON) and exit; starts no server");
    auto* migrate = cli.add_subcommand(
        "migrate", "Apply pending schema migrations to DATABASE_URL and exit (0: schema current)"
    );
    for (auto* sub : {serve, version, healthcheck, token, migrate, openapi}) sub->fallthrough();

    std::deque<seconds_setting> durations;
    std::string log_format = cfg.logging.format == obs::log_format::json ? "json" : "text";
    add_http_options(cli, cfg.http, durations);
    add_setting(
        cli,
        "--threads",
        "THREADS",
        cfg.threads,
        "Event loops (threads); default: CPUs available (affinity, cgroup quota)"
    )
        ->check(CLI::Range(std::size_t{1}, std::size_t{256}));
    add_setting(cli, "--data-dir", "DATA_DIR", cfg.data_dir, "Directory of the embedded SQLite database");
    add_logging_options(cli, cfg.logging, log_format);
    std::string jwt_algorithms = "HS256";
    std::int64_t jwt_leeway = cfg.auth.jwt.leeway.count();
    add_auth_options(cli, cfg.auth, jwt_algorithms, jwt_leeway);
    add_db_options(cli, cfg.db, durations);
    cli.add_option_function<std::int64_t>(
           "--idempotency-purge-interval-seconds",
           [&cfg](std::int64_t seconds) { cfg.idempotency_purge_interval = std::chrono::seconds(seconds); },
           "Seconds between two purges of expired Idempotency-Keys (0: never)"
    )
        ->envname("IDEMPOTENCY_PURGE_INTERVAL_SECONDS")
        ->default_str(std::to_string(cfg.idempotency_purge_interval.count()))
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{86'400}));
    // Other modules: add_<module>_options(cli, cfg.<module>) here.

    // The settings belong to the top-level app (so that they may come before or after the
    // subcommand); `orders-service serve --help` would otherwise list none of them.
    const std::function<std::string()> settings_help = [&cli] {
        return "Settings (a flag before or after the subcommand, or its environment variable):\n" +
               settings_formatter().make_groups(&cli, CLI::AppFormatMode::Normal);
    };
    for (auto* sub : {serve, healthcheck, token, migrate}) sub->footer(settings_help);

    try {
        cli.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return {std::nullopt, cli.exit(e, out, err)};
    } catch (const CLI::CallForVersion& e) {
        return {std::nullopt, cli.exit(e, out, err)};
    } catch (const CLI::ParseError& e) {
        err << k_program << ": " << one_line(e.what()) << '\n';
        return {std::nullopt, 2};
    }

    for (const auto& d : durations) {
        *d.target = std::chrono::milliseconds(std::llround(d.seconds * 1000.0));
    }
    cfg.logging.format = obs::parse_log_format(log_format);
    cfg.auth.jwt.algorithms = auth::parse_algorithm_list(jwt_algorithms);
    cfg.auth.jwt.leeway = std::chrono::seconds(jwt_leeway);
    if (*version) result.command = command::version;
    if (*healthcheck) result.command = command::healthcheck;
    if (*token) result.command = command::token;
    if (*openapi) result.command = command::openapi;
    if (*migrate) result.command = command::migrate;
    cfg.db.data_dir = cfg.data_dir;
    return {std::move(result), 0};
}

}  // namespace svc::app
