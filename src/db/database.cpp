#include "db/database.hpp"

#include <stdexcept>

#include <spdlog/spdlog.h>

#include "db/error.hpp"
#include "db/migrations.hpp"

namespace svc::db {

namespace asio = boost::asio;

pg::pool_options make_pool_options(const options& opts) {
    pg::pool_options p;
    p.pool_size = opts.pool_size;
    p.max_overflow = opts.max_overflow;
    p.recycle = opts.pool_recycle;
    p.checkout_timeout = opts.pool_timeout;
    p.connect_timeout = opts.pool_timeout;
    p.statement_timeout = opts.statement_timeout;
    p.prepared_statements = opts.prepared_statements;
    return p;
}

database::database(database_url url) : url_(std::move(url)) {}

database::~database() = default;

std::unique_ptr<database> database::open(const options& opts, runtime::event_loops& loops) {
    auto url = parse_database_url(opts.url, opts.data_dir);
    std::unique_ptr<database> db(new database(url));
    if (url.backend == backend::postgresql) {
        db->pool_ = std::make_unique<pg::pool>(loops, url.conninfo, url.redacted, make_pool_options(opts));
    } else {
        db->sqlite_ = std::make_unique<sqlite::database>(sqlite::database_options{
            url.sqlite_path, opts.sqlite_readers, opts.sqlite_busy_timeout});
    }
    return db;
}

pg::pool& database::postgres() {
    if (!pool_)
        throw std::logic_error(
            "db::database::postgres() on a " + std::string(to_string(backend())) + " database"
        );
    return *pool_;
}

sqlite::database& database::sqlite() {
    if (!sqlite_)
        throw std::logic_error(
            "db::database::sqlite() on a " + std::string(to_string(backend())) + " database"
        );
    return *sqlite_;
}

void database::close() {
    if (pool_) pool_->close();
}

asio::awaitable<readiness> database::check_ready() {
    readiness r;
    r.expected_version = latest_version(backend());
    constexpr std::string_view k_version_sql =
        "SELECT coalesce(max(version), 0)::int8 FROM schema_migrations";
    try {
        if (pool_) {
            auto lease = co_await pool_->acquire();
            auto rows = co_await lease.execute(k_version_sql);
            r.schema_version = static_cast<int>(rows[0].int64(0));
        } else {
            r.schema_version = co_await sqlite_->read([](sqlite::connection& c) {
                auto s = c.prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
                s.step();
                return static_cast<int>(s.column_int64(0));
            });
        }
        r.reachable = true;
    } catch (const db::error& e) {
        spdlog::debug("readiness check: {}", e.what());
        if (e.code() == errc::other) {
            r.reachable = true;  // it answered: schema_migrations is missing
        } else {
            r.detail = e.code() == errc::shutting_down ? "Database pool closed" : "Database unreachable";
            co_return r;
        }
    }
    if (r.schema_version < r.expected_version) {
        r.detail = "Database schema behind: version " + std::to_string(r.schema_version) + " of " +
                   std::to_string(r.expected_version);
    } else if (r.schema_version > r.expected_version) {
        r.detail = "Database schema newer than this binary";
    }
    co_return r;
}

}  // namespace svc::db
