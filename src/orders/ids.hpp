#pragma once
// Order ids: UUID version 7 (RFC 9562) — 48 bits of Unix milliseconds, then sub-millisecond
// precision and random bits. Time-ordered, so the primary-key index grows at its right
// edge and "newest first" is "descending by id". Pure functions; randomness and time are
// the caller's.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "orders/model.hpp"

namespace svc::orders {

// A UUIDv7 for the instant `now` (microseconds since the epoch) with 62 random bits
// taken from `random` (the rest of `random` is unused). Layout: unix_ts_ms (48) | ver 7 (4)
// | rand_a = sub-millisecond fraction in 1/4096 ms (12, RFC 9562 method 3) | var 0b10 (2)
// | rand_b (62). Canonical lower-case text, 36 chars.
std::string make_uuid_v7(timestamp now, std::uint64_t random);

// A fresh UUIDv7 for `now`, random bits from a per-thread generator seeded from
// std::random_device. Thread-safe.
std::string new_order_id(timestamp now);

// `text` as canonical lower-case UUID text when it is a UUID in 8-4-4-4-12 hex form (any
// case), else nullopt. Used to tell "cannot be an order id" (→ 404) before any query.
std::optional<std::string> canonical_uuid(std::string_view text);

// The millisecond timestamp embedded in a UUIDv7's first 48 bits (for tests and logs).
std::optional<std::int64_t> uuid_v7_millis(std::string_view canonical);

}  // namespace svc::orders
