#include "db/database.hpp"

#include <stdexcept>
#include <variant>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
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
    p.overflow_idle_timeout = opts.overflow_idle_timeout;
    p.max_writers = opts.write_concurrency;
    p.checkout_timeout = opts.pool_timeout;
    p.connect_timeout = opts.pool_timeout;
    p.statement_timeout = opts.statement_timeout;
    p.prepared_statements = opts.prepared_statements;
    p.generic_plans = opts.generic_plans;
    return p;
}

database::database(database_url url) : url_(std::move(url)) {}

database::~database() = default;

std::unique_ptr<database> database::open(const options& opts, runtime::event_loops& loops) {
    auto url = parse_database_url(opts.url, opts.data_dir);
    std::unique_ptr<database> db(new database(url));
    db->readiness_timeout_ = opts.pool_timeout;
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

asio::awaitable<database::probe_result> database::probe_schema_version() {
    // Never throws: awaitable_operators' `||` waits for the first *successful* operand, so a
    // failure has to be a value for the race against the timer to end at once.
    probe_result out;
    try {
        if (pool_) {
            auto lease = co_await pool_->acquire();
            auto rows =
                co_await lease.execute("SELECT coalesce(max(version), 0)::int8 FROM schema_migrations");
            out.version = static_cast<int>(rows[0].int64(0));
        } else {
            out.version = co_await sqlite_->read([](sqlite::connection& c) {
                auto s = c.prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
                s.step();
                return static_cast<int>(s.column_int64(0));
            });
        }
    } catch (const db::error& e) {
        spdlog::debug("readiness check: {}", e.what());
        out.failure = e.code();
    }
    co_return out;
}

asio::awaitable<readiness> database::check_ready() {
    using namespace asio::experimental::awaitable_operators;
    readiness r;
    r.expected_version = latest_version(backend());
    if (sqlite_ && !sqlite_->file_in_place()) {
        r.detail = "Database file deleted or replaced";
        co_return r;
    }
    if (sqlite_ && !sqlite_->writable()) {
        r.detail = "Database read-only";
        co_return r;
    }
    // A database that accepts connections but does not answer (locks, overload) must not
    // hang the probe: the check gives up after the pool timeout.
    asio::steady_timer give_up(co_await asio::this_coro::executor, readiness_timeout_);
    auto outcome = co_await (probe_schema_version() || give_up.async_wait(asio::use_awaitable));
    if (outcome.index() == 1) {
        r.detail = "Database not answering";
        co_return r;
    }
    const probe_result probe = std::get<0>(outcome);
    if (probe.failure) {
        switch (*probe.failure) {
            case errc::other:
                break;  // it answered: schema_migrations is missing (version 0)
            case errc::shutting_down:
                r.detail = "Database pool closed";
                co_return r;
            case errc::pool_timeout:
                r.detail = "Database pool exhausted";
                co_return r;
            default:
                r.detail = "Database unreachable";
                co_return r;
        }
    }
    r.reachable = true;
    r.schema_version = probe.version;
    if (r.schema_version < r.expected_version) {
        r.detail = "Database schema behind: version " + std::to_string(r.schema_version) + " of " +
                   std::to_string(r.expected_version);
    } else if (r.schema_version > r.expected_version) {
        r.detail = "Database schema newer than this binary";
    }
    co_return r;
}

}  // namespace svc::db
