#include "app/serve.hpp"

#include <csignal>
#include <iostream>
#include <memory>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "api/metrics.hpp"
#include "api/routes.hpp"
#include "app/auth_setup.hpp"
#include "app/openapi_command.hpp"
#include "app/system_routes.hpp"
#include "db/database.hpp"
#include "db/error.hpp"
#include "db/metrics.hpp"
#include "db/migrations.hpp"
#include "db/orders/order_stores.hpp"
#include "http/probe.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include "observability/process_metrics.hpp"
#include "orders/service.hpp"
#include "runtime/event_loops.hpp"
#include <sys/resource.h>

namespace svc::app {

namespace {

// Descriptors the process holds besides client connections: listeners, the database pool or
// SQLite files, epoll and eventfds, logs — a generous allowance.
constexpr rlim_t k_descriptors_besides_connections = 128;

// Each connection needs a descriptor: lift the soft limit to the hard one, as servers do, and
// warn when even that cannot hold the connections allowed — accept() would then fail with
// "Too many open files" below MAX_CONNECTIONS, refusing everyone, probes included.
void raise_open_file_limit(const http::server_options& http) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) ::getrlimit(RLIMIT_NOFILE, &limit);
    }
    const rlim_t needed = http.max_connections + (http.admin_port ? http::k_admin_max_connections : 0) +
                          k_descriptors_besides_connections;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
        spdlog::warn(
            "MAX_CONNECTIONS={} needs about {} file descriptors but the open-file limit is {}: "
            "connections beyond it fail with 'Too many open files'; raise the limit (ulimit -n) or "
            "lower MAX_CONNECTIONS",
            http.max_connections,
            needed,
            limit.rlim_cur
        );
    }
}

// Migrates (or, with --no-migrate, checks) the schema. Throws db::error, db::migration_error.
void prepare_schema(const db::options& options) {
    const db::database_url url = db::parse_database_url(options.url, options.data_dir);
    if (!options.migrate) {
        db::require_current_schema(url);
        return;
    }
    const db::migration_report report = db::migrate(url);
    if (report.applied.empty()) {
        spdlog::info("database {}: schema at version {}", url.redacted, report.to_version);
    } else {
        spdlog::info(
            "database {}: migrated schema from version {} to {}",
            url.redacted,
            report.from_version,
            report.to_version
        );
    }
}

// GET /ready's database part: nullopt when ready, else the reason (no internals).
boost::asio::awaitable<std::optional<std::string>> database_readiness(db::database& database) {
    const db::readiness r = co_await database.check_ready();
    if (r.ready()) co_return std::nullopt;
    co_return r.detail;
}

}  // namespace

int migrate(const config& cfg) {
    obs::init_logging(cfg.logging);
    try {
        db::options options = cfg.db;
        options.migrate = true;
        prepare_schema(options);
        obs::flush_logs();
        return 0;
    } catch (const std::exception& e) {
        spdlog::critical("migrate: {}", e.what());
        obs::flush_logs();
        return 1;
    }
}

int serve(const config& cfg) {
    obs::init_logging(cfg.logging);
    obs::register_process_metrics(obs::default_registry());
    raise_open_file_limit(cfg.http);

    runtime::event_loops loops(cfg.threads);
    service_state state;

    // 1. Authentication: the JWT verifier (docs/AUTH.md). It is configuration, so it is checked
    //    before the database is touched: a bad key setting exits 2.
    http::authenticator authenticate;
    try {
        const authentication authn = start_authentication(cfg.auth, database_url(cfg), cfg.data_dir);
        log_authentication(authn);
        authenticate = make_authenticator(authn.verifier);
    } catch (const auth::configuration_error& e) {
        spdlog::critical("{}", e.what());
        obs::flush_logs();
        return 2;
    }

    // 2. Database: migrate (or check the schema with --no-migrate), open the pool or the
    //    SQLite workers, register the db_* metrics; /ready then asks the database too.
    std::unique_ptr<db::database> database;
    try {
        prepare_schema(cfg.db);
        database = db::database::open(cfg.db, loops);
        db::register_metrics(obs::default_registry(), *database);
    } catch (const std::exception& e) {  // db::error, db::migration_error: one line, no secrets
        spdlog::critical("database: {}", e.what());
        obs::flush_logs();
        return 1;
    }
    state.readiness_check = [db = database.get()] { return database_readiness(*db); };

    // 3. The route table: system routes, then the API routes (api module).
    //    make_route_table adds /openapi.json and /docs last, documenting the whole table.
    //    The orders service (stateless, shared by every loop) runs over the store of the
    //    configured backend; expired Idempotency-Keys are purged from loop 0.
    const std::unique_ptr<orders::order_store> store = db::make_order_store(*database);
    api::domain_metrics domain_metrics(obs::default_registry());
    orders::service orders_service(*store, &domain_metrics);
    boost::asio::co_spawn(
        loops.context(0),
        db::purge_idempotency_keys_periodically(
            *store, db::idempotency_purge_options{cfg.idempotency_purge_interval}
        ),
        boost::asio::detached
    );
    const http::router router(make_route_table(state, api::routes(orders_service)).routes);

    // The admin listener (ADMIN_PORT) serves the system routes only: /health, /ready, /metrics.
    const http::router admin_router(system_routes(state));

    // 4. Listen.
    http::server server(loops, router, std::move(authenticate), cfg.http, &admin_router);
    try {
        server.start();
    } catch (const std::exception& e) {
        spdlog::critical("cannot listen on {}:{}: {}", cfg.http.host, cfg.http.port, e.what());
        obs::flush_logs();
        return 1;
    }
    spdlog::info(
        "listening on {}:{} with {} event loop(s), pid {}",
        cfg.http.host,
        server.port(),
        loops.size(),
        ::getpid()
    );
    if (cfg.http.admin_port) {
        spdlog::info(
            "admin listener (/health, /ready, /metrics) on {}:{}", cfg.http.host, server.admin_port()
        );
    }

    // SIGTERM/SIGINT: readiness flips first, then the server drains; a second signal stops at once.
    boost::asio::signal_set signals(loops.context(0), SIGINT, SIGTERM);
    const auto on_signal = [&](const boost::system::error_code& ec, int signal_number) {
        if (ec) return;
        spdlog::info(
            "signal {}: shutting down (grace {} ms)", signal_number, cfg.http.shutdown_grace.count()
        );
        state.draining.store(true, std::memory_order_release);
        server.shutdown([&] {
            // 5. Close the database pool (idle connections now, busy ones as they return).
            database->close();
            spdlog::info("shutdown complete");
            signals.cancel();
            loops.stop();
        });
        signals.async_wait([&](const boost::system::error_code& again, int) {
            if (again) return;
            spdlog::warn("second signal: stopping without waiting");
            loops.stop();
        });
    };
    signals.async_wait(on_signal);

    loops.run();
    obs::flush_logs();
    return 0;
}

int healthcheck(const config& cfg) {
    // A wildcard listen address is reached through loopback.
    std::string host = cfg.http.host;
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    // The admin listener, when there is one, answers even while the service port is flooded.
    const std::uint16_t port = cfg.http.admin_port.value_or(cfg.http.port);
    const auto result = http::probe_get(host, port, "/health", std::chrono::seconds(2));
    if (result && result->status == 200) return 0;
    std::cerr << "orders-service: healthcheck failed: "
              << (result ? "status " + std::to_string(result->status) : std::string("no answer within 2 s"))
              << '\n';
    return 1;
}

int version() {
    std::cout << "orders-service " ORDERS_VERSION "\n";
    return 0;
}

}  // namespace svc::app
