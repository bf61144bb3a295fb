#include "db/metrics.hpp"

namespace svc::db {

void register_metrics(obs::registry& registry, database& db) {
    auto& connections =
        registry.add_gauge("db_pool_connections", "Database connections by state (idle or busy).", {"state"});
    auto& wait = registry.add_histogram(
        "db_pool_wait_seconds",
        "Time to obtain a database connection (SQLite: queue wait for a worker).",
        {},
        obs::latency_buckets()
    );
    auto& query = registry.add_histogram(
        "db_query_duration_seconds",
        "Database round trip time (one statement or pipeline; SQLite: one job).",
        {},
        obs::latency_buckets()
    );
    obs::gauge& idle = connections.with({"idle"});
    obs::gauge& busy = connections.with({"busy"});
    obs::histogram& wait_series = wait.get();
    obs::histogram& query_series = query.get();
    const auto observe_wait = [&wait_series](double seconds) { wait_series.observe(seconds); };
    const auto observe_query = [&query_series](double seconds) { query_series.observe(seconds); };

    if (db.backend() == backend::postgresql) {
        pg::pool& pool = db.postgres();
        const auto publish = [&pool, &idle, &busy] {
            obs::set_settled(idle, [&pool] { return static_cast<double>(pool.idle_connections()); });
            obs::set_settled(busy, [&pool] { return static_cast<double>(pool.busy_connections()); });
        };
        publish();
        // PostgreSQL only: SQLite has its one writer thread and no write admission.
        auto& writers = registry.add_gauge(
            "db_write_transactions",
            "Write transactions holding a DB_WRITE_CONCURRENCY slot (active) or queued for one (waiting).",
            {"state"}
        );
        obs::gauge& active = writers.with({"active"});
        obs::gauge& waiting = writers.with({"waiting"});
        const auto publish_writers = [&pool, &active, &waiting] {
            obs::set_settled(active, [&pool] { return static_cast<double>(pool.active_writers()); });
            obs::set_settled(waiting, [&pool] { return static_cast<double>(pool.waiting_writers()); });
        };
        publish_writers();
        pool.set_observer({observe_wait, observe_query, publish, publish_writers});
    } else {
        sqlite::database& lite = db.sqlite();
        const auto publish = [&lite, &idle, &busy] {
            obs::set_settled(idle, [&lite] { return static_cast<double>(lite.idle_connections()); });
            obs::set_settled(busy, [&lite] { return static_cast<double>(lite.busy_connections()); });
        };
        publish();
        lite.set_observer({observe_wait, observe_query, publish});
    }
}

}  // namespace svc::db
