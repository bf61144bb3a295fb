#include "http/rate_limit.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace svc::http {

namespace {
std::string describe(double per_second) {
    std::ostringstream text;
    text << "Rate limit exceeded: " << per_second << " requests per second per client";
    return text.str();
}
}  // namespace

rate_limiter::rate_limiter(rate_limit_options options)
    : per_second_(options.per_second),
      burst_(std::max(1.0, options.burst > 0 ? options.burst : options.per_second)),
      max_per_shard_(std::max<std::size_t>(1, options.max_clients / k_shards)),
      refusal_detail_(describe(per_second_)) {
    if (!(per_second_ > 0)) throw std::invalid_argument("a rate limit needs a positive rate");
}

double rate_limiter::refilled(const bucket& b, clock::time_point now) const {
    const double elapsed = std::chrono::duration<double>(now - b.updated).count();
    return std::min(burst_, b.tokens + std::max(0.0, elapsed) * per_second_);
}

void rate_limiter::make_room(shard& s, clock::time_point now) {
    std::erase_if(s.buckets, [&](const auto& entry) { return refilled(entry.second, now) >= burst_; });
    if (s.buckets.size() >= max_per_shard_) s.buckets.clear();
}

std::optional<std::chrono::seconds> rate_limiter::acquire(std::string_view client, clock::time_point now) {
    shard& s = shards_[std::hash<std::string_view>{}(client) % k_shards];
    const std::lock_guard lock(s.mutex);
    auto it = s.buckets.find(client);
    if (it == s.buckets.end()) {
        if (s.buckets.size() >= max_per_shard_) make_room(s, now);
        it = s.buckets.emplace(std::string(client), bucket{burst_, now}).first;
    }
    bucket& b = it->second;
    b.tokens = refilled(b, now);
    b.updated = now;
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return std::nullopt;
    }
    const double wait = (1.0 - b.tokens) / per_second_;
    return std::chrono::seconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(wait))));
}

std::size_t rate_limiter::clients() const {
    std::size_t n = 0;
    for (const shard& s : shards_) {
        const std::lock_guard lock(s.mutex);
        n += s.buckets.size();
    }
    return n;
}

}  // namespace svc::http
