#pragma once
// Database settings. src/app/config.cpp fills this from the environment and CLI flags
// (each setting: env var and flag, named in the comment); the defaults live here.

#include <chrono>
#include <cstddef>
#include <string>

namespace svc::db {

struct options {
    // DATABASE_URL / --database-url: `sqlite://PATH` (PATH relative to data_dir unless
    // absolute) or any libpq URI `postgresql://…` / `postgres://…`.
    std::string url = "sqlite://orders.db";
    // DATA_DIR / --data-dir: where a relative SQLite path lives.
    std::string data_dir = ".";

    // PostgreSQL pool, SQLAlchemy's knobs. Both counts are totals for the process; each event
    // loop gets its own slice of ceil(total / loops) (see docs/DATABASE.md).
    std::size_t pool_size = 20;                    // DB_POOL_SIZE / --db-pool-size
    std::size_t max_overflow = 10;                 // DB_MAX_OVERFLOW / --db-max-overflow
    std::chrono::seconds pool_recycle{3600};       // DB_POOL_RECYCLE / --db-pool-recycle (s)
    std::chrono::milliseconds pool_timeout{5000};  // DB_POOL_TIMEOUT / --db-pool-timeout (s)
    // DB_OVERFLOW_IDLE_TIMEOUT / --db-overflow-idle-timeout (s): how long a connection beyond
    // DB_POOL_SIZE may sit idle before it is closed.
    std::chrono::milliseconds overflow_idle_timeout{30000};
    // DB_WRITE_CONCURRENCY / --db-write-concurrency: write transactions (orders, products) in
    // flight at once, process total; the rest queue within DB_POOL_TIMEOUT. 0 = no limit.
    std::size_t write_concurrency = 8;
    // DB_STATEMENT_TIMEOUT_MS: the server's statement_timeout on every pool connection, so
    // that a live server always ends a stuck statement (rolled back) before the client-side
    // round-trip bound gives up on it (outcome unknown). 0 = none.
    std::chrono::milliseconds statement_timeout{5000};
    bool prepared_statements = true;  // DB_PREPARED_STATEMENTS=false for PgBouncer
    bool generic_plans = true;        // DB_GENERIC_PLANS / --db-generic-plans

    // SQLite: reader connections (each on its own worker thread); there is always one writer.
    std::size_t sqlite_readers = 2;                       // DB_SQLITE_READERS / --db-sqlite-readers
    std::chrono::milliseconds sqlite_busy_timeout{5000};  // DB_SQLITE_BUSY_TIMEOUT_MS

    // --no-migrate (MIGRATE=false): do not apply migrations at start; refuse to start when
    // the schema is behind.
    bool migrate = true;
};

}  // namespace svc::db
