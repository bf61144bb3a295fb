#pragma once
// Per-client rate limiting: a token bucket per client key (the token's `sub`), refilled at
// `per_second` tokens a second up to `burst`; a request takes one token or is refused with
// 429 and Retry-After. The server applies it after authentication, before the body is read,
// to `user` and `admin` routes only (probes, metrics and docs are never limited).
//
// Per replica and in memory, on purpose: a limit protects this process and the database
// behind it; nothing about it must survive a restart. Behind a load balancer spreading one
// client over N replicas the client gets up to N × the limit — size it per replica.
//
// Thread-safe: buckets live in shards, each behind its own mutex (one short critical section
// per request). Memory is bounded: a shard over its share of `max_clients` first forgets the
// buckets that have refilled completely (they hold no state a new bucket would not), then, if
// that is not enough, all of them (those clients start again with a full burst).

#include <array>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace svc::http {

struct rate_limit_options {
    double per_second = 0;  // RATE_LIMIT_PER_SECOND; 0: no limit
    double burst = 0;       // RATE_LIMIT_BURST; 0: the same as per_second (at least 1)
    std::size_t max_clients = 100'000;
};

class rate_limiter {
public:
    using clock = std::chrono::steady_clock;

    // Requires options.per_second > 0.
    explicit rate_limiter(rate_limit_options options);

    // Takes a token for `client` at `now`: nullopt when admitted, otherwise how long until a
    // token is available, rounded up to whole seconds (at least 1) for Retry-After.
    std::optional<std::chrono::seconds> acquire(std::string_view client, clock::time_point now);

    double burst() const { return burst_; }
    // The 429 body's detail: "Rate limit exceeded: 100 requests per second per client".
    const std::string& refusal_detail() const { return refusal_detail_; }
    // Buckets currently remembered (all shards), for tests.
    std::size_t clients() const;

private:
    struct bucket {
        double tokens = 0;
        clock::time_point updated;
    };
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    struct shard {
        mutable std::mutex mutex;
        std::unordered_map<std::string, bucket, string_hash, std::equal_to<>> buckets;
    };
    static constexpr std::size_t k_shards = 16;

    double refilled(const bucket& b, clock::time_point now) const;
    void make_room(shard& s, clock::time_point now);

    const double per_second_;
    const double burst_;
    const std::size_t max_per_shard_;
    const std::string refusal_detail_;
    std::array<shard, k_shards> shards_;
};

}  // namespace svc::http
