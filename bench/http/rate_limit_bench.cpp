// What RATE_LIMIT_PER_SECOND costs a request: one rate_limiter::acquire, for one client and
// for many, from one thread and from several at once (shards, each behind a mutex).
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "http/rate_limit.hpp"

namespace {

using svc::http::rate_limiter;

rate_limiter& shared_limiter() {
    static rate_limiter limiter({.per_second = 1e9, .burst = 1e9});  // never refuses
    return limiter;
}

void bm_acquire_one_client(benchmark::State& state) {
    rate_limiter& limiter = shared_limiter();
    const std::string client = "user-" + std::to_string(state.thread_index());
    for (auto _ : state) benchmark::DoNotOptimize(limiter.acquire(client, rate_limiter::clock::now()));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_acquire_one_client)->ThreadRange(1, 2)->UseRealTime();

void bm_acquire_10k_clients(benchmark::State& state) {
    rate_limiter& limiter = shared_limiter();
    std::vector<std::string> clients;
    for (int i = 0; i < 10'000; ++i) clients.push_back("user-" + std::to_string(i));
    std::size_t next = static_cast<std::size_t>(state.thread_index()) * 5'000;
    for (auto _ : state) {
        benchmark::DoNotOptimize(limiter.acquire(clients[next], rate_limiter::clock::now()));
        next = (next + 1) % clients.size();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_acquire_10k_clients)->ThreadRange(1, 2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
