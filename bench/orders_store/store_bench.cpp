// Throughput of the order stores themselves — no HTTP — on the benchmark's data shape
// (as the end-to-end benchmark seeds it: p1..p100 with ample stock, 2000 orders of 1-3 items
// over user1..user50). Each iteration runs k_concurrency workers at once over 2 event loops (like
// wrk's 64 connections), each making k_ops_per_worker calls; items/s is calls per second.
//   BENCH_DATABASE_URL (or TEST_DATABASE_URL): PostgreSQL; the PostgreSQL cases skip without it.
//   build/release/bench/orders_store/orders_store_bench --benchmark_min_time=3
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "orders/ids.hpp"
#include "orders/service.hpp"
#include "support/store_backends.hpp"

namespace svc::db::store_test {
namespace {

namespace asio = boost::asio;
using namespace svc::orders;

constexpr int k_concurrency = 64;
constexpr int k_ops_per_worker = 20;
constexpr int k_seeded_orders = 2000;

template <typename Backend>
struct seeded {
    std::unique_ptr<Backend> backend;
    std::mutex ids_mutex;
    std::vector<std::string> order_ids;  // guarded by ids_mutex while seeding
};

template <typename Backend>
std::unique_ptr<Backend> make_backend() {
    if constexpr (std::is_same_v<Backend, postgres_backend>) {
        if (const char* url = std::getenv("BENCH_DATABASE_URL")) setenv("TEST_DATABASE_URL", url, 1);
        return std::make_unique<Backend>(
            std::getenv("BENCH_POOL_SIZE") ? std::stoul(std::getenv("BENCH_POOL_SIZE")) : 20
        );
    } else {
        return std::make_unique<Backend>();
    }
}

new_order bench_order(std::mt19937& random, const std::string& user) {
    std::uniform_int_distribution<int> low(1, 50);
    std::uniform_int_distribution<int> high(51, 100);
    std::uniform_int_distribution<int> quantity(1, 3);
    new_order o;
    o.now = system_now();
    o.id = new_order_id(o.now);
    o.user_id = user;
    o.items = {
        {"p" + std::to_string(low(random)), quantity(random)},
        {"p" + std::to_string(high(random)), quantity(random)}};
    std::ranges::sort(o.items, {}, &item_request::product_id);
    return o;
}

template <typename Backend>
seeded<Backend>& data() {
    static seeded<Backend> s;
    static const bool seeded_once = [] {
        s.backend = make_backend<Backend>();
        if (!s.backend->available()) return false;
        auto& store = s.backend->store();
        std::vector<std::function<asio::awaitable<void>()>> tasks;
        for (int n = 1; n <= 100; ++n) {
            tasks.push_back([&store, n]() -> asio::awaitable<void> {
                new_product p{
                    "p" + std::to_string(n), "Product " + std::to_string(n), 100 * n, 1'000'000'000};
                (void)co_await store.create_product(std::move(p), system_now());
            });
        }
        s.backend->runner().run_all(std::move(tasks));
        std::mt19937 random(7);
        for (int batch = 0; batch < k_seeded_orders / k_concurrency + 1; ++batch) {
            std::vector<std::function<asio::awaitable<void>()>> creates;
            for (int i = 0; i < k_concurrency; ++i) {
                auto request =
                    bench_order(random, "user" + std::to_string((batch * k_concurrency + i) % 50 + 1));
                creates.push_back([&store, request]() -> asio::awaitable<void> {
                    auto result = co_await store.create_order(request);
                    const std::lock_guard lock(s.ids_mutex);
                    s.order_ids.push_back(std::get<order>(result).id);
                });
            }
            s.backend->runner().run_all(std::move(creates));
        }
        return true;
    }();
    (void)seeded_once;
    return s;
}

template <typename Backend, typename Op>
void run_batches(benchmark::State& state, Op make_op) {
    auto& s = data<Backend>();
    if (!s.backend->available()) {
        state.SkipWithError("BENCH_DATABASE_URL / TEST_DATABASE_URL is not set");
        return;
    }
    std::mt19937 random(42);
    using op = std::function<asio::awaitable<void>()>;
    for (auto _ : state) {
        // k_concurrency workers, each running k_ops_per_worker calls back to back: a steady
        // load like wrk's keep-alive connections (one batch of single calls would mostly
        // measure the pool opening and closing its overflow connections).
        std::vector<op> workers;
        workers.reserve(k_concurrency);
        for (int w = 0; w < k_concurrency; ++w) {
            std::vector<op> ops;
            for (int i = 0; i < k_ops_per_worker; ++i) ops.push_back(make_op(s, random));
            workers.push_back([ops = std::move(ops)]() -> asio::awaitable<void> {
                for (const auto& call : ops) co_await call();
            });
        }
        s.backend->runner().run_all(std::move(workers));
    }
    state.SetItemsProcessed(state.iterations() * k_concurrency * k_ops_per_worker);
}

template <typename Backend>
void create_order(benchmark::State& state) {
    run_batches<Backend>(state, [](seeded<Backend>& s, std::mt19937& random) {
        auto request = bench_order(random, "bench");
        auto* store = &s.backend->store();
        return std::function<asio::awaitable<void>()>([store, request]() -> asio::awaitable<void> {
            auto result = co_await store->create_order(request);
            if (!std::holds_alternative<order>(result)) throw std::runtime_error("create_order refused");
        });
    });
}

template <typename Backend>
void get_order(benchmark::State& state) {
    run_batches<Backend>(state, [](seeded<Backend>& s, std::mt19937& random) {
        std::uniform_int_distribution<std::size_t> pick(0, s.order_ids.size() - 1);
        auto id = s.order_ids[pick(random)];
        auto* store = &s.backend->store();
        return std::function<asio::awaitable<void>()>([store, id]() -> asio::awaitable<void> {
            auto found = co_await store->get_order(id);
            if (!found) throw std::runtime_error("order not found");
        });
    });
}

template <typename Backend>
void list_orders(benchmark::State& state) {
    run_batches<Backend>(state, [](seeded<Backend>& s, std::mt19937& random) {
        std::uniform_int_distribution<int> user(1, 50);
        const order_query query{"user" + std::to_string(user(random)), std::nullopt, std::nullopt, 50};
        auto* store = &s.backend->store();
        return std::function<asio::awaitable<void>()>([store, query]() -> asio::awaitable<void> {
            auto page = co_await store->list_orders(query);
            if (page.data.empty()) throw std::runtime_error("empty page");
        });
    });
}

// One caller, back to back: the latency of one store call (a round trip plus decoding).
template <typename Backend>
void get_order_sequential(benchmark::State& state) {
    auto& s = data<Backend>();
    if (!s.backend->available()) {
        state.SkipWithError("BENCH_DATABASE_URL / TEST_DATABASE_URL is not set");
        return;
    }
    constexpr int k_calls = 200;
    auto* store = &s.backend->store();
    const auto* ids = &s.order_ids;
    for (auto _ : state) {
        s.backend->runner().run([store, ids]() -> asio::awaitable<void> {
            for (int i = 0; i < k_calls; ++i) {
                auto found = co_await store->get_order((*ids)[static_cast<std::size_t>(i) % ids->size()]);
                if (!found) throw std::runtime_error("order not found");
            }
        });
    }
    state.SetItemsProcessed(state.iterations() * k_calls);
}

BENCHMARK(get_order_sequential<postgres_backend>)->Name("postgresql/get_order_sequential")->UseRealTime();
BENCHMARK(get_order_sequential<sqlite_backend>)->Name("sqlite/get_order_sequential")->UseRealTime();
BENCHMARK(create_order<postgres_backend>)->Name("postgresql/create_order")->UseRealTime();
BENCHMARK(get_order<postgres_backend>)->Name("postgresql/get_order")->UseRealTime();
BENCHMARK(list_orders<postgres_backend>)->Name("postgresql/list_orders")->UseRealTime();
BENCHMARK(create_order<sqlite_backend>)->Name("sqlite/create_order")->UseRealTime();
BENCHMARK(get_order<sqlite_backend>)->Name("sqlite/get_order")->UseRealTime();
BENCHMARK(list_orders<sqlite_backend>)->Name("sqlite/list_orders")->UseRealTime();

}  // namespace
}  // namespace svc::db::store_test

BENCHMARK_MAIN();
