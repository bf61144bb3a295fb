#pragma once
// The two real backends of orders::order_store, behind one shape, for a typed test suite:
// - postgres_backend: a fresh schema per test on the PostgreSQL of TEST_DATABASE_URL (set by
//   the ctest fixture), migrated with the embedded migrations, a real pg::pool over 2 event loops;
// - sqlite_backend: a fresh database file in a temp directory, migrated the same way, the
//   real sqlite::database (one writer thread, two readers).
// Each also offers an independent blocking SQL connection (`query_int`) so that tests can
// check invariants without going through the store under test.

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "db/database_url.hpp"
#include "db/migrations.hpp"
#include "db/orders/pg_order_store.hpp"
#include "db/orders/sqlite_order_store.hpp"
#include "db/pg/pool.hpp"
#include "db/sqlite/database.hpp"
#include "runtime/event_loops.hpp"
#include "support/pg_connection.hpp"
#include "support/require_postgres.hpp"

namespace svc::db::store_test {

inline std::string unique_suffix() {
    static std::atomic<int> counter{0};
    std::random_device seed;
    return std::to_string(seed() % 1'000'000) + "_" + std::to_string(counter++);
}

// Runs coroutines on real event loops until ALL of them have finished (also after one
// failed: no coroutine frame may outlive the store it uses), then rethrows the first failure.
// `tasks[i]` is started on loop i % loops.size(), so concurrent tasks really run on different
// threads (and, on PostgreSQL, on different pool slices). The task objects stay alive in
// `tasks` until every coroutine has finished, so tasks may be capturing lambdas.
class loop_runner {
public:
    explicit loop_runner(std::size_t loop_count) : loops_(loop_count) {}

    runtime::event_loops& loops() { return loops_; }

    void run_all(std::vector<std::function<boost::asio::awaitable<void>()>> tasks) {
        if (tasks.empty()) return;
        std::atomic<std::size_t> remaining{tasks.size()};
        std::mutex failure_mutex;
        std::exception_ptr failure;  // guarded by failure_mutex
        for (std::size_t i = 0; i < tasks.size(); ++i) {
            boost::asio::co_spawn(loops_.context(i % loops_.size()), tasks[i](), [&](std::exception_ptr e) {
                if (e) {
                    std::lock_guard lock(failure_mutex);
                    if (!failure) failure = e;
                }
                if (remaining.fetch_sub(1) == 1) loops_.stop();
            });
        }
        loops_.run();
        for (std::size_t i = 0; i < loops_.size(); ++i) loops_.context(i).restart();
        if (failure) std::rethrow_exception(failure);
    }

    void run(std::function<boost::asio::awaitable<void>()> task) { run_all({std::move(task)}); }

private:
    runtime::event_loops loops_;
};

using pg_connection = svc::test::pg_connection;

class postgres_backend {
public:
    // A duplicate that finds the key claimed by a running transaction is told so at once.
    static constexpr bool k_reports_in_flight = true;
    // A user's page: one statement, the page with its items (a generic plan: no wrapper).
    static constexpr std::uint64_t k_statements_per_user_page = 1;

    // `pool_size` connections (process total over the 2 loops), plus a third of that in
    // overflow; `max_writers` write transactions at once (pool_options::max_writers).
    explicit postgres_backend(
        std::size_t pool_size = 8, bool generic_plans = true, std::size_t max_writers = 8
    ) {
        const char* base = std::getenv("TEST_DATABASE_URL");
        if (base == nullptr || *base == '\0') return;
        base_url_ = base;
        schema_ = "orders_store_" + unique_suffix();
        pg_connection(base_url_).exec("CREATE SCHEMA " + schema_);
        url_ = base_url_ + (base_url_.find('?') == std::string::npos ? "?" : "&") +
               "options=-csearch_path%3D" + schema_;
        db::migrate(parse_database_url(url_));
        pg::pool_options options;
        options.pool_size = pool_size;
        options.max_overflow = pool_size / 3;
        options.generic_plans = generic_plans;
        options.max_writers = max_writers;
        pool_ = std::make_unique<pg::pool>(runner_.loops(), url_, redact_url(url_), options);
        store_ = std::make_unique<pg_order_store>(*pool_);
        checks_ = std::make_unique<pg_connection>(url_);
    }
    ~postgres_backend() {
        if (schema_.empty()) return;
        store_.reset();
        if (pool_) pool_->close();
        runner_.run_all({});
        pool_.reset();
        checks_.reset();
        try {
            pg_connection(base_url_).exec("DROP SCHEMA " + schema_ + " CASCADE");
        } catch (const std::exception&) {
            // The server may be gone: nothing left to clean up then.
        }
    }
    postgres_backend(const postgres_backend&) = delete;
    postgres_backend& operator=(const postgres_backend&) = delete;

    bool available() const { return !schema_.empty(); }
    orders::order_store& store() { return *store_; }
    std::uint64_t statements_sent() const { return store_->statements_sent(); }
    loop_runner& runner() { return runner_; }
    pg::pool& pool() { return *pool_; }
    std::int64_t query_int(const std::string& sql) { return std::stoll("0" + checks_->exec(sql)); }
    // Runs `sql` on a connection of its own, e.g. to terminate the store's backends.
    void admin_exec(const std::string& sql) { pg_connection(url_).exec(sql); }
    const std::string& url() const { return url_; }

private:
    loop_runner runner_{2};
    std::string base_url_;
    std::string schema_;
    std::string url_;
    std::unique_ptr<pg::pool> pool_;
    std::unique_ptr<pg_order_store> store_;
    std::unique_ptr<pg_connection> checks_;
};

class sqlite_backend {
public:
    // One serial writer: a duplicate is looked at only after the first one committed.
    static constexpr bool k_reports_in_flight = false;
    static constexpr std::uint64_t k_statements_per_user_page = 1;

    sqlite_backend() {
        dir_ = std::filesystem::temp_directory_path() / ("orders-store-" + unique_suffix());
        std::filesystem::create_directories(dir_);
        const auto path = (dir_ / "orders.db").string();
        db::migrate(parse_database_url("sqlite://" + path));
        db_ = std::make_unique<sqlite::database>(sqlite::database_options{
            path, 2, std::chrono::milliseconds(5000)});
        store_ = std::make_unique<sqlite_order_store>(*db_);
        if (sqlite3_open_v2(path.c_str(), &checks_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
            throw std::runtime_error("cannot open the SQLite file for checks");
        }
    }
    ~sqlite_backend() {
        sqlite3_close(checks_);
        store_.reset();
        db_.reset();
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    sqlite_backend(const sqlite_backend&) = delete;
    sqlite_backend& operator=(const sqlite_backend&) = delete;

    bool available() const { return true; }
    orders::order_store& store() { return *store_; }
    std::uint64_t statements_sent() const { return store_->statements_sent(); }
    loop_runner& runner() { return runner_; }
    std::int64_t query_int(const std::string& sql) {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(checks_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
            throw std::runtime_error(sql + ": " + sqlite3_errmsg(checks_));
        }
        std::int64_t value = 0;
        if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
        sqlite3_finalize(stmt);
        return value;
    }

    // Runs `sql` (statements, no result) on a writable connection of its own, e.g. to bulk-load
    // rows the store would take long to write one by one.
    void admin_exec(const std::string& sql) {
        sqlite3* db = nullptr;
        const auto path = (dir_ / "orders.db").string();
        char* message = nullptr;
        const bool ok = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK &&
                        sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
                        sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) == SQLITE_OK;
        const std::string error = message != nullptr ? message : (db != nullptr ? sqlite3_errmsg(db) : "");
        sqlite3_free(message);
        sqlite3_close(db);
        if (!ok) throw std::runtime_error(sql + ": " + error);
    }

private:
    loop_runner runner_{2};
    std::filesystem::path dir_;
    std::unique_ptr<sqlite::database> db_;
    std::unique_ptr<sqlite_order_store> store_;
    sqlite3* checks_ = nullptr;
};

}  // namespace svc::db::store_test
