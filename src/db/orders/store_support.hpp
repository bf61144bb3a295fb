#pragma once
// Helpers both order stores share: backend-neutral mapping between rows and the domain, and
// the one translation of database failures into domain errors. Internal to src/db/orders.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "db/error.hpp"
#include "orders/errors.hpp"
#include "orders/model.hpp"
#include "orders/store.hpp"

namespace svc::db::order_store_support {

// When an Idempotency-Key stored at `now` may be purged.
inline orders::timestamp expiry_for(orders::timestamp now) {
    return now + std::chrono::duration_cast<std::chrono::microseconds>(orders::k_idempotency_ttl).count();
}

// orders.status as stored; the schema's CHECK admits only known names, so anything else is a bug.
inline orders::order_status status_from(std::string_view name) {
    auto status = orders::parse_order_status(name);
    if (!status) throw std::logic_error("orders.status holds an unknown status");
    return *status;
}

inline std::int64_t total_of(const std::vector<orders::order_item>& items) {
    std::int64_t total = 0;
    for (const auto& item : items) total += item.line_total_cents;
    return total;
}

// The order create_order has just written from `order` with its priced `items`: pending,
// version 1, created and updated at order.now.
inline orders::order pending_order(const orders::new_order& order, std::vector<orders::order_item> items) {
    orders::order created;
    created.id = order.id;
    created.user_id = order.user_id;
    created.status = orders::order_status::pending;
    created.currency = order.currency;
    created.version = 1;
    created.created_at = created.updated_at = order.now;
    created.total_cents = total_of(items);
    created.items = std::move(items);
    return created;
}

// A page from rows fetched with LIMIT limit + 1: the first `limit`, and whether more follow.
template <typename T>
orders::page<T> page_of(std::vector<T> rows, std::size_t limit) {
    orders::page<T> page;
    page.has_more = rows.size() > limit;
    if (page.has_more) rows.resize(limit);
    page.data = std::move(rows);
    return page;
}

// Called inside a `catch (const db::error& e)`: an outage or a retryable conflict becomes the
// domain's `unavailable` (503 with Retry-After); anything else is rethrown unchanged (a 500).
[[noreturn]] inline void rethrow_for_domain(const db::error& e) {
    if (e.is_unavailable() || e.is_retryable())
        throw orders::unavailable("The database is unavailable, retry later");
    throw;  // the db::error being handled, unchanged
}

}  // namespace svc::db::order_store_support
