#pragma once
// Helpers for the database tests: run a coroutine on real event loops, a throwaway
// PostgreSQL schema per test (TEST_DATABASE_URL, set by the ctest fixture), a temp SQLite file.

#include <atomic>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <random>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include "db/database_url.hpp"
#include "runtime/event_loops.hpp"
#include "support/pg_connection.hpp"
#include "support/require_postgres.hpp"

namespace svc::db::test {

// Runs `make()` (a coroutine factory) on loop 0 of `loops` until it finishes; rethrows.
template <typename Make>
void run_on(runtime::event_loops& loops, Make make) {
    std::exception_ptr failure;
    bool done = false;
    boost::asio::co_spawn(loops.context(0), make(), [&](std::exception_ptr e) {
        failure = e;
        done = true;
        loops.stop();
    });
    // run() also returns when the loop runs out of work for a moment (e.g. a worker thread
    // released the last work guard): keep running until the coroutine is done.
    while (!done) {
        loops.context(0).restart();
        loops.run();
    }
    loops.context(0).restart();
    if (failure) std::rethrow_exception(failure);
}

inline std::string unique_name(std::string_view prefix) {
    static std::atomic<int> counter{0};
    std::random_device rd;
    return std::string(prefix) + "_" + std::to_string(rd() % 1000000) + "_" + std::to_string(counter++);
}

inline std::string url_with_search_path(const std::string& base, const std::string& schema) {
    return base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
}

// Blocking admin helper (test set-up only).
using pg_admin = svc::test::pg_connection;

// A fresh schema for one test, dropped afterwards; url() points libpq's search_path at it.
class pg_schema {
public:
    pg_schema() {
        const char* base = std::getenv("TEST_DATABASE_URL");
        if (base == nullptr || *base == '\0') return;
        base_ = base;
        name_ = unique_name("t");
        pg_admin(base_).exec("CREATE SCHEMA " + name_);
        url_ = url_with_search_path(base_, name_);
    }
    ~pg_schema() {
        if (name_.empty()) return;
        try {
            pg_admin(base_).exec("DROP SCHEMA " + name_ + " CASCADE");
        } catch (const std::exception&) {
            // The server may be gone after a fault test: nothing to clean up then.
        }
    }
    pg_schema(const pg_schema&) = delete;
    pg_schema& operator=(const pg_schema&) = delete;

    bool available() const { return !name_.empty(); }
    const std::string& url() const { return url_; }
    const std::string& base_url() const { return base_; }
    const std::string& name() const { return name_; }
    database_url parsed() const { return parse_database_url(url_); }

private:
    std::string base_;
    std::string name_;
    std::string url_;
};

// A temp directory with a SQLite file path in it, removed afterwards.
class temp_sqlite {
public:
    temp_sqlite() {
        dir_ = std::filesystem::temp_directory_path() / unique_name("orders-sqlite");
        std::filesystem::create_directories(dir_);
    }
    ~temp_sqlite() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    temp_sqlite(const temp_sqlite&) = delete;
    temp_sqlite& operator=(const temp_sqlite&) = delete;

    std::string path() const { return (dir_ / "orders.db").string(); }
    std::string url() const { return "sqlite://" + path(); }
    std::string dir() const { return dir_.string(); }
    database_url parsed() const { return parse_database_url(url()); }

private:
    std::filesystem::path dir_;
};

}  // namespace svc::db::test
