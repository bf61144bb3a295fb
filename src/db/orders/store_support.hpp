#pragma once
// Helpers both order stores share: backend-neutral mapping between rows and the domain,
// constants both schemas agree on, and the one translation of database failures into domain
// errors. Internal to src/db/orders.
//
// GCC 12 and coroutine temporaries (tagged "GCC 12: named, see store_support.hpp" where used).
// GCC before 13 miscompiles a temporary of aggregate or closure type with non-trivial members
// — a braced `T{...}`, a lambda with init-captures such as `[p = std::move(p)]` — created
// inside a `co_await` expression: the object is copied bitwise and destroyed twice (ASan:
// "attempting free on address which was not malloc()-ed"). It is GCC bug 100611
// (https://gcc.gnu.org/bugzilla/show_bug.cgi?id=100611), fixed in GCC 13; Debian 12 ships
// GCC 12. The stores therefore build such objects in a named local first and
// `co_await f(std::move(x))`. Function results and classes with constructors are not affected.

#include <array>
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

// Compile-time concatenation of SQL fragments, so that statements sharing a head or a tail
// are still single named constants, built without any run-time work:
//     constexpr joined_sql k_a_sql{k_head, k_tail};
//     constexpr std::string_view k_a = k_a_sql.view();
template <std::size_t... N>
struct joined_sql {
    std::array<char, (N + ...) - sizeof...(N) + 1> text{};
    constexpr explicit joined_sql(const char (&... parts)[N]) {
        std::size_t at = 0;
        (
            [&] {
                for (std::size_t i = 0; i + 1 < N; ++i) text[at++] = parts[i];
            }(),
            ...
        );
    }
    constexpr std::string_view view() const { return {text.data(), text.size() - 1}; }
};

// The cursor of a first page of orders: every UUID sorts below it (pages go newest first,
// `id < cursor`).
inline constexpr std::string_view k_no_cursor = "ffffffff-ffff-ffff-ffff-ffffffffffff";

// purge_idempotency_keys deletes at most this many rows per call (one statement).
inline constexpr auto k_purge_batch = static_cast<std::int64_t>(orders::k_idempotency_purge_batch);

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
// domain's `unavailable` (503 with Retry-After; a write that ends so did not commit),
// carrying `e`'s message as its cause for the log; a write whose commit could not be settled
// becomes `outcome_unknown`; anything else is rethrown unchanged (a 500).
[[noreturn]] inline void rethrow_for_domain(const db::error& e) {
    if (e.code() == db::errc::outcome_unknown) {
        throw orders::outcome_unknown("The database connection was lost while the change was committed");
    }
    if (e.is_unavailable() || e.is_retryable())
        throw orders::unavailable("The database is unavailable, retry later", 1, e.what());
    throw;  // the db::error being handled, unchanged
}

}  // namespace svc::db::order_store_support
