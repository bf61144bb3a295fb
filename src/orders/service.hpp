#pragma once
// The orders domain service: enforces roles and business rules, generates ids and
// timestamps, and calls the store. No I/O of its own, no HTTP, no SQL.
//
// Errors: every refusal is a typed exception from orders/errors.hpp (not_found, forbidden,
// business_error, conflict, precondition_failed, idempotency_key_reused, and unavailable
// passed through from the store). Messages are client-facing sentences.
//
// Preconditions: inputs are validated against orders/limits.hpp by the caller (the API
// layer's JSON rules): ids well-formed, items 1-100 with unique product ids, quantities
// 1-10000, page limits 1-200. The service re-checks only what a rule of its own depends on.
//
// Threading: stateless apart from references fixed at construction, so one instance is
// shared by every event loop. The store, the observer and the clock must be thread-safe.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "orders/model.hpp"
#include "orders/state_machine.hpp"
#include "orders/store.hpp"

namespace svc::orders {

// Who is calling, as far as the domain cares (the API layer maps auth::principal to it).
struct actor {
    std::string subject;  // the token's sub
    bool is_admin = false;
};

// Domain events, for metrics. Called after the change committed, on the calling loop's
// thread; implementations must be thread-safe and must not throw.
class service_observer {
public:
    virtual ~service_observer() = default;
    virtual void order_created(const order& created) = 0;
    virtual void status_changed(order_status from, order_status to) = 0;
};

struct create_order_command {
    std::optional<std::string> user_id;  // the body's optional user_id, as text
    std::vector<item_request> items;
    // Idempotency-Key and the rendered bodies; `caller` is filled in by the service.
    std::optional<idempotency_claim> idempotency;
};

// A created order (→ 201), or the stored answer of an earlier request with the same
// Idempotency-Key (→ its status and body, Idempotent-Replayed: true).
using create_order_outcome = std::variant<order, idempotent_replay>;

// Microseconds since the epoch from the system clock.
timestamp system_now();

// The client-facing sentence for a stock refusal: "Insufficient stock for product p1".
std::string refusal_message(const stock_refusal& refusal);

class service {
public:
    using clock = std::function<timestamp()>;

    // `store` and `observer` (optional) must outlive the service.
    explicit service(order_store& store, service_observer* observer = nullptr, clock now = system_now);

    // -- products

    // Admin only (forbidden otherwise). conflict when the id exists.
    boost::asio::awaitable<product> create_product(actor who, new_product p);
    // not_found when absent (or when `id` cannot be a product id).
    boost::asio::awaitable<product> get_product(std::string id);
    // Admin only. not_found when absent. An empty patch changes nothing and returns the product.
    boost::asio::awaitable<product> update_product(actor who, std::string id, product_patch patch);
    boost::asio::awaitable<page<product>> list_products(product_query query);

    // -- orders

    // Creates an order for `who` — or, when command.user_id names someone else, for that
    // user, which needs admin (forbidden otherwise). Stock refusal → business_error naming
    // the product; Idempotency-Key outcomes → idempotent_replay, conflict (in flight) or
    // idempotency_key_reused.
    boost::asio::awaitable<create_order_outcome> create_order(actor who, create_order_command command);

    // The order when `who` owns it or is admin; not_found otherwise — with the same message
    // whether it is missing, someone else's or `id` is not a UUID.
    boost::asio::awaitable<order> get_order(actor who, std::string id);

    // Non-admins see only their own orders: query.user_id must be absent or their own
    // subject (forbidden otherwise). Admins see all, optionally filtered by user_id.
    boost::asio::awaitable<page<order>> list_orders(actor who, order_query query);

    // Replaces the items of a pending order (business_error "Cannot modify <status> orders"
    // otherwise); precondition_failed when expected_version is stale; not_found as get_order.
    boost::asio::awaitable<order> replace_items(
        actor who,
        std::string id,
        std::vector<item_request> items,
        std::optional<std::int64_t> expected_version
    );

    // Applies a state-machine action (see state_machine.hpp): forbidden when the action needs
    // admin, business_error when the order's status does not allow it, precondition_failed
    // on a stale expected_version, not_found as get_order.
    boost::asio::awaitable<order> apply(
        actor who, std::string id, order_action action, std::optional<std::int64_t> expected_version
    );

private:
    order_store& store_;
    service_observer* observer_;  // may be null
    clock now_;
};

}  // namespace svc::orders
