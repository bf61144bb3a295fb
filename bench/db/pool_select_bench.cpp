// A prepared single-row SELECT through pg::pool: BENCH_CALLERS (64) coroutines on ONE event
// loop (as pgbench -j1 uses one thread), each acquiring a lease, running the statement and
// returning the lease, in a loop. Reports requests/s and the p50/p99 latency of one
// checkout + round trip. The table is the benchmark kit's reference schema (loaded by
// bench/db/compare-pgbench), so pgbench can run the very same statement.
//
// Environment: BENCH_DATABASE_URL (else TEST_DATABASE_URL), BENCH_CALLERS (64). The pool
// size is the benchmark argument (20 = DB_POOL_SIZE's default, 64 = one connection per caller).
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>

#include "db/database_url.hpp"
#include "db/pg/pool.hpp"
#include "runtime/event_loops.hpp"

namespace {

namespace asio = boost::asio;
using namespace svc;
using clock_type = std::chrono::steady_clock;

constexpr std::string_view k_select_order =
    "SELECT id, user_id, status, currency, total_cents, version, created_at, updated_at FROM orders "
    "WHERE id = (SELECT id FROM bench_order_ids WHERE n = $1)";

std::string env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

std::string database_url() {
    std::string url = env_or("BENCH_DATABASE_URL", env_or("TEST_DATABASE_URL", ""));
    if (url.empty()) return url;
    return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3Dpglimit";
}

struct run_stats {
    std::vector<double> latencies_us;
    std::int64_t errors = 0;
};

// One caller: `count` checkouts + SELECTs, recording each latency.
asio::awaitable<void> caller(
    db::pg::pool& pool, int count, std::int64_t orders, std::uint32_t seed, run_stats& stats
) {
    std::minstd_rand random(seed);
    std::uniform_int_distribution<std::int64_t> pick(1, orders);
    for (int i = 0; i < count; ++i) {
        const auto started = clock_type::now();
        try {
            auto lease = co_await pool.acquire();
            auto rows = co_await lease.execute(k_select_order, pick(random));
            if (rows.rows() != 1) ++stats.errors;
        } catch (const std::exception&) {
            ++stats.errors;
        }
        stats.latencies_us.push_back(
            std::chrono::duration<double, std::micro>(clock_type::now() - started).count()
        );
    }
}

// Runs `callers` callers of `per_caller` queries each to completion on loop 0.
void run_batch(
    runtime::event_loops& loops,
    db::pg::pool& pool,
    int callers,
    int per_caller,
    std::int64_t orders,
    run_stats& stats
) {
    int remaining = callers;
    static std::uint32_t seed = 1;
    for (int c = 0; c < callers; ++c) {
        asio::co_spawn(
            loops.context(0),
            caller(pool, per_caller, orders, seed++, stats),
            [&](std::exception_ptr) {
                if (--remaining == 0) loops.stop();
            }
        );
    }
    loops.run();
    loops.context(0).restart();
}

void BM_PoolPreparedSelect(benchmark::State& state) {
    const std::string url = database_url();
    if (url.empty()) {
        state.SkipWithError("set BENCH_DATABASE_URL (a database where bench/pg-limit's schema is loaded)");
        return;
    }
    const int callers = std::stoi(env_or("BENCH_CALLERS", "64"));
    runtime::event_loops loops(1);
    db::pg::pool_options options;
    options.pool_size = static_cast<std::size_t>(state.range(0));
    options.max_overflow = 0;
    options.checkout_timeout = std::chrono::seconds(10);
    db::pg::pool pool(loops, url, db::redact_url(url), options);

    // Warm-up (not measured): opens the connections and prepares the statement on each.
    std::int64_t orders = 0;
    {
        run_stats warm;
        asio::co_spawn(
            loops.context(0),
            [&]() -> asio::awaitable<void> {
                auto lease = co_await pool.acquire();
                orders = (co_await lease.execute("SELECT count(*)::int8 FROM bench_order_ids"))[0].int64(0);
            },
            [&](std::exception_ptr e) {
                if (e) orders = -1;
                loops.stop();
            }
        );
        loops.run();
        loops.context(0).restart();
        if (orders <= 0) {
            state.SkipWithError(
                "pglimit.bench_order_ids is empty or unreachable: run bench/db/compare-pgbench"
            );
            return;
        }
        run_batch(loops, pool, callers, 200, orders, warm);
    }

    run_stats stats;
    // Long batches: the tail of a batch, where fewer than `callers` are still running, stays small.
    constexpr int k_per_caller = 400;
    std::int64_t queries = 0;
    for (auto _ : state) {
        run_batch(loops, pool, callers, k_per_caller, orders, stats);
        queries += static_cast<std::int64_t>(callers) * k_per_caller;
    }
    std::sort(stats.latencies_us.begin(), stats.latencies_us.end());
    const auto percentile = [&](double p) {
        if (stats.latencies_us.empty()) return 0.0;
        const auto index = static_cast<std::size_t>(p * static_cast<double>(stats.latencies_us.size() - 1));
        return stats.latencies_us[index] / 1000.0;
    };
    state.SetItemsProcessed(queries);
    state.counters["rps"] = benchmark::Counter(static_cast<double>(queries), benchmark::Counter::kIsRate);
    state.counters["p50_ms"] = percentile(0.50);
    state.counters["p99_ms"] = percentile(0.99);
    state.counters["errors"] = static_cast<double>(stats.errors);
    state.counters["callers"] = callers;
}

BENCHMARK(BM_PoolPreparedSelect)->Arg(20)->Arg(64)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
