#pragma once
// Helpers both order stores share: backend-neutral mapping between rows and the domain, and
// the one translation of database failures into domain errors. Internal to src/db/orders.

#include <chrono>
#include <stdexcept>
#include <string_view>

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

// Called inside a `catch (const db::error& e)`: an outage or a retryable conflict becomes the
// domain's `unavailable` (503 with Retry-After); anything else is rethrown unchanged (a 500).
[[noreturn]] inline void rethrow_for_domain(const db::error& e) {
    if (e.is_unavailable() || e.is_retryable())
        throw orders::unavailable("The database is unavailable, retry later");
    throw;  // the db::error being handled, unchanged
}

}  // namespace svc::db::order_store_support
