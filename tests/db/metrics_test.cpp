// The database metrics as /metrics exposes them, over a real SQLite database and a real
// PostgreSQL pool.
#include "db/metrics.hpp"

#include <gtest/gtest.h>

#include "db/database.hpp"
#include "support/db_support.hpp"

namespace svc::db {
namespace {

namespace asio = boost::asio;

std::string sample(const std::string& exposition, const std::string& series) {
    const auto at = exposition.find("\n" + series + " ");
    if (at == std::string::npos) return "<missing>";
    const auto start = at + series.size() + 2;
    return exposition.substr(start, exposition.find('\n', start) - start);
}

TEST(DbMetrics, SqliteJobsAreCountedAndConnectionsReported) {
    test::temp_sqlite file;
    runtime::event_loops loops(1);
    options opts;
    opts.url = file.url();
    opts.sqlite_readers = 2;
    auto db = database::open(opts, loops);
    obs::registry registry;
    register_metrics(registry, *db);
    const std::string before = registry.expose();
    EXPECT_EQ(sample(before, R"(db_pool_connections{state="idle"})"), "3");
    EXPECT_EQ(sample(before, R"(db_pool_connections{state="busy"})"), "0");
    EXPECT_EQ(sample(before, "db_query_duration_seconds_count"), "0");
    test::run_on(loops, [&]() -> asio::awaitable<void> {
        co_await db->sqlite().write([](sqlite::connection& c) { c.exec("CREATE TABLE t (n INTEGER)"); });
        co_await db->sqlite().read([](sqlite::connection&) { return 1; });
    });
    const std::string after = registry.expose();
    EXPECT_EQ(sample(after, "db_query_duration_seconds_count"), "2");
    EXPECT_EQ(sample(after, "db_pool_wait_seconds_count"), "2");
    EXPECT_EQ(sample(after, R"(db_pool_connections{state="busy"})"), "0");
}

TEST(DbMetrics, PostgresPoolCountsIdleAndBusy) {
    test::pg_schema schema;
    REQUIRE_POSTGRES(schema);
    runtime::event_loops loops(1);
    options opts;
    opts.url = schema.url();
    auto db = database::open(opts, loops);
    obs::registry registry;
    register_metrics(registry, *db);
    std::string during;
    test::run_on(loops, [&]() -> asio::awaitable<void> {
        auto a = co_await db->postgres().acquire();
        auto b = co_await db->postgres().acquire();
        co_await a.execute("SELECT 1");
        during = registry.expose();
    });
    EXPECT_EQ(sample(during, R"(db_pool_connections{state="busy"})"), "2");
    const std::string after = registry.expose();
    EXPECT_EQ(sample(after, R"(db_pool_connections{state="idle"})"), "2");
    EXPECT_EQ(sample(after, R"(db_pool_connections{state="busy"})"), "0");
    EXPECT_EQ(sample(after, "db_pool_wait_seconds_count"), "2");
    EXPECT_EQ(sample(after, "db_query_duration_seconds_count"), "1");
}

}  // namespace
}  // namespace svc::db
