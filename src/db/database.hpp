#pragma once
// The backend-neutral handle the app owns: the PostgreSQL pool or the SQLite database,
// chosen by DATABASE_URL, plus the readiness check behind GET /ready. Store implementations
// (src/db/orders) take the concrete backend from here.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "db/database_url.hpp"
#include "db/error.hpp"
#include "db/options.hpp"
#include "db/pg/pool.hpp"
#include "db/sqlite/database.hpp"

namespace svc::runtime {
class event_loops;
}

namespace svc::db {

// What /ready reports about the database.
struct readiness {
    bool reachable = false;    // a round trip to the database succeeded
    int schema_version = 0;    // as recorded in schema_migrations
    int expected_version = 0;  // this binary's latest migration
    std::string detail;        // why not ready, one sentence without internals; empty when ready

    bool ready() const { return reachable && schema_version == expected_version; }
};

class database {
public:
    // Opens the backend (SQLite file and workers, or the PostgreSQL pool, which connects
    // lazily). Does not migrate: call db::migrate() first. Throws db::error / url_error.
    // `loops` must outlive the database.
    static std::unique_ptr<database> open(const options& opts, runtime::event_loops& loops);

    ~database();
    database(const database&) = delete;
    database& operator=(const database&) = delete;

    db::backend backend() const { return url_.backend; }
    const database_url& url() const { return url_; }

    // The backend; std::logic_error when asked for the other one.
    pg::pool& postgres();
    sqlite::database& sqlite();

    // One round trip reading schema_migrations' version; gives up after the pool timeout
    // (DB_POOL_TIMEOUT). SQLite is also not ready when its file was deleted or replaced under
    // the service, or cannot be written. Never throws; call on an event loop.
    boost::asio::awaitable<readiness> check_ready();

    // Stops new PostgreSQL checkouts and closes idle connections (see pg::pool::close()).
    void close();

private:
    explicit database(database_url url);
    struct probe_result {
        int version = 0;
        std::optional<errc> failure;
    };
    boost::asio::awaitable<probe_result> probe_schema_version();

    database_url url_;
    std::chrono::milliseconds readiness_timeout_{5000};  // check_ready() gives up after this
    std::unique_ptr<pg::pool> pool_;
    std::unique_ptr<sqlite::database> sqlite_;
};

// pg::pool_options from the DB_* settings.
pg::pool_options make_pool_options(const options& opts);

}  // namespace svc::db
