// The token buckets behind 429, with explicit time points: burst, refill, Retry-After,
// clients apart, and the memory bound.
#include "http/rate_limit.hpp"

#include <gtest/gtest.h>

namespace svc::http {
namespace {

using namespace std::chrono;
using clock_type = rate_limiter::clock;

TEST(rate_limiter, a_burst_then_the_rate) {
    rate_limiter limiter({.per_second = 2, .burst = 3});
    const auto t0 = clock_type::now();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.acquire("alice", t0), std::nullopt) << i;
    // Empty: the next token comes in 0.5 s, announced as 1 s (Retry-After is whole seconds).
    EXPECT_EQ(limiter.acquire("alice", t0), seconds(1));
    EXPECT_EQ(limiter.acquire("alice", t0 + milliseconds(400)), seconds(1));
    EXPECT_EQ(limiter.acquire("alice", t0 + milliseconds(510)), std::nullopt);  // one token back
    EXPECT_EQ(limiter.acquire("alice", t0 + milliseconds(520)), seconds(1));
    // Refilling stops at the burst: 10 s idle gives 3 tokens, not 20.
    const auto later = t0 + seconds(10);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.acquire("alice", later), std::nullopt) << i;
    EXPECT_NE(limiter.acquire("alice", later), std::nullopt);
}

TEST(rate_limiter, clients_have_their_own_buckets) {
    rate_limiter limiter({.per_second = 1, .burst = 1});
    const auto t0 = clock_type::now();
    EXPECT_EQ(limiter.acquire("alice", t0), std::nullopt);
    EXPECT_NE(limiter.acquire("alice", t0), std::nullopt);
    EXPECT_EQ(limiter.acquire("bob", t0), std::nullopt);
    EXPECT_EQ(limiter.clients(), 2U);
}

TEST(rate_limiter, retry_after_covers_the_wait_at_a_slow_rate) {
    rate_limiter limiter({.per_second = 0.1, .burst = 1});  // one request per 10 s
    const auto t0 = clock_type::now();
    EXPECT_EQ(limiter.acquire("alice", t0), std::nullopt);
    EXPECT_EQ(limiter.acquire("alice", t0), seconds(10));
    EXPECT_EQ(limiter.acquire("alice", t0 + seconds(4)), seconds(6));
}

TEST(rate_limiter, burst_defaults_to_the_rate_and_at_least_one) {
    EXPECT_EQ(rate_limiter({.per_second = 50}).burst(), 50);
    EXPECT_EQ(rate_limiter({.per_second = 0.5}).burst(), 1);
    EXPECT_THROW(rate_limiter({.per_second = 0}), std::invalid_argument);
    EXPECT_EQ(
        rate_limiter({.per_second = 100}).refusal_detail(),
        "Rate limit exceeded: 100 requests per second per client"
    );
}

TEST(rate_limiter, memory_stays_bounded_by_max_clients) {
    rate_limiter limiter({.per_second = 1, .burst = 2, .max_clients = 160});  // 10 per shard
    const auto t0 = clock_type::now();
    for (int i = 0; i < 5000; ++i) limiter.acquire("client" + std::to_string(i), t0);
    EXPECT_LE(limiter.clients(), 160U);
    // Still limiting after all that churn.
    EXPECT_EQ(limiter.acquire("busy", t0), std::nullopt);
    EXPECT_EQ(limiter.acquire("busy", t0), std::nullopt);
    EXPECT_NE(limiter.acquire("busy", t0), std::nullopt);
    for (int i = 0; i < 5000; ++i) limiter.acquire("later" + std::to_string(i), t0 + seconds(10));
    EXPECT_LE(limiter.clients(), 160U);
}

}  // namespace
}  // namespace svc::http
