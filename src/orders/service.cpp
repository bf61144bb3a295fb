#include "orders/service.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "orders/errors.hpp"
#include "orders/ids.hpp"
#include "orders/limits.hpp"

namespace svc::orders {

namespace {

constexpr std::string_view k_order_not_found = "Order not found";
constexpr std::string_view k_product_not_found = "Product not found";

void require_admin(const actor& who, std::string_view what) {
    if (!who.is_admin) throw forbidden("Only an admin may " + std::string(what));
}

// Non-admins act only on their own orders: the store treats another owner's order as
// absent, so "not yours" and "missing" are the same answer.
std::optional<std::string> owner_restriction(const actor& who) {
    if (who.is_admin) return std::nullopt;
    return who.subject;
}

void sort_by_product(std::vector<item_request>& items) {
    std::ranges::sort(items, {}, &item_request::product_id);
}

[[noreturn]] void throw_version_mismatch(const version_mismatch& m) {
    throw precondition_failed("Order is at version " + std::to_string(m.current));
}

}  // namespace

timestamp system_now() {
    const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
    return std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count();
}

std::string refusal_message(const stock_refusal& refusal) {
    switch (refusal.why) {
        case stock_refusal::reason::insufficient_stock:
            return "Insufficient stock for product " + refusal.product_id;
        case stock_refusal::reason::unknown_product:
            break;
    }
    return "Unknown product " + refusal.product_id;
}

service::service(order_store& store, service_observer* observer, clock now)
    : store_(store), observer_(observer), now_(std::move(now)) {}

// ---------------------------------------------------------------- products

boost::asio::awaitable<product> service::create_product(actor who, new_product p) {
    require_admin(who, "create products");
    std::string id = p.id;
    auto result = co_await store_.create_product(std::move(p), now_());
    if (auto* created = std::get_if<product>(&result)) co_return std::move(*created);
    throw conflict("Product " + id + " already exists");
}

boost::asio::awaitable<product> service::get_product(std::string id) {
    if (!limits::is_product_id(id)) throw not_found(std::string(k_product_not_found));
    auto found = co_await store_.get_product(std::move(id));
    if (!found) throw not_found(std::string(k_product_not_found));
    co_return std::move(*found);
}

boost::asio::awaitable<product> service::update_product(actor who, std::string id, product_patch patch) {
    require_admin(who, "update products");
    if (!limits::is_product_id(id)) throw not_found(std::string(k_product_not_found));
    std::optional<product> updated;
    if (patch.empty()) {
        updated = co_await store_.get_product(std::move(id));
    } else {
        updated = co_await store_.update_product(std::move(id), std::move(patch), now_());
    }
    if (!updated) throw not_found(std::string(k_product_not_found));
    co_return std::move(*updated);
}

boost::asio::awaitable<page<product>> service::list_products(product_query query) {
    co_return co_await store_.list_products(std::move(query));
}

// ---------------------------------------------------------------- orders

boost::asio::awaitable<create_order_outcome> service::create_order(actor who, create_order_command command) {
    std::string owner = who.subject;
    if (command.user_id && *command.user_id != who.subject) {
        require_admin(who, "order for another user");
        owner = *command.user_id;
    }
    sort_by_product(command.items);

    const timestamp now = now_();
    new_order request{
        .id = new_order_id(now),
        .user_id = std::move(owner),
        .currency = "USD",
        .items = std::move(command.items),
        .now = now,
        .idempotency = std::move(command.idempotency),
    };
    if (request.idempotency) request.idempotency->caller = who.subject;

    auto result = co_await store_.create_order(std::move(request));
    if (auto* created = std::get_if<order>(&result)) {
        if (observer_ != nullptr) observer_->order_created(*created);
        co_return create_order_outcome{std::move(*created)};
    }
    if (auto* replay = std::get_if<idempotent_replay>(&result)) {
        co_return create_order_outcome{std::move(*replay)};
    }
    if (auto* refusal = std::get_if<stock_refusal>(&result)) throw business_error(refusal_message(*refusal));
    if (std::holds_alternative<idempotency_in_flight>(result)) {
        throw conflict("A request with this Idempotency-Key is still in progress");
    }
    throw idempotency_key_reused("Idempotency-Key was already used with a different request body");
}

boost::asio::awaitable<order> service::get_order(actor who, std::string id) {
    auto canonical = canonical_uuid(id);
    if (!canonical) throw not_found(std::string(k_order_not_found));
    auto found = co_await store_.get_order(std::move(*canonical));
    if (!found || (!who.is_admin && found->user_id != who.subject)) {
        throw not_found(std::string(k_order_not_found));
    }
    co_return std::move(*found);
}

boost::asio::awaitable<page<order>> service::list_orders(actor who, order_query query) {
    if (!who.is_admin) {
        if (query.user_id && *query.user_id != who.subject) {
            throw forbidden("Only an admin may list other users' orders");
        }
        query.user_id = who.subject;
    }
    co_return co_await store_.list_orders(std::move(query));
}

boost::asio::awaitable<order> service::replace_items(
    actor who, std::string id, std::vector<item_request> items, std::optional<std::int64_t> expected_version
) {
    auto canonical = canonical_uuid(id);
    if (!canonical) throw not_found(std::string(k_order_not_found));
    sort_by_product(items);
    replace_items_request request{
        .order_id = std::move(*canonical),
        .owner = owner_restriction(who),
        .expected_version = expected_version,
        .items = std::move(items),
        .now = now_(),
    };
    auto result = co_await store_.replace_items(std::move(request));
    if (auto* replaced = std::get_if<order>(&result)) co_return std::move(*replaced);
    if (std::holds_alternative<order_not_found>(result)) throw not_found(std::string(k_order_not_found));
    if (auto* stale = std::get_if<version_mismatch>(&result)) throw_version_mismatch(*stale);
    if (auto* status = std::get_if<wrong_status>(&result)) {
        throw business_error("Cannot modify " + std::string(to_string(status->current)) + " orders");
    }
    throw business_error(refusal_message(std::get<stock_refusal>(result)));
}

boost::asio::awaitable<order> service::apply(
    actor who, std::string id, order_action action, std::optional<std::int64_t> expected_version
) {
    const action_rule& rule = rule_for(action);
    if (rule.access == action_access::admin) require_admin(who, std::string(rule.name) + " orders");
    auto canonical = canonical_uuid(id);
    if (!canonical) throw not_found(std::string(k_order_not_found));

    transition_request request{
        .order_id = std::move(*canonical),
        .owner = owner_restriction(who),
        .expected_version = expected_version,
        .from = rule.from.to_vector(),
        .to = rule.to,
        .restock = rule.restock,
        .now = now_(),
    };
    auto result = co_await store_.transition(std::move(request));
    if (auto* done = std::get_if<transitioned>(&result)) {
        if (observer_ != nullptr) observer_->status_changed(done->previous, done->after.status);
        co_return std::move(done->after);
    }
    if (std::holds_alternative<order_not_found>(result)) throw not_found(std::string(k_order_not_found));
    if (auto* stale = std::get_if<version_mismatch>(&result)) throw_version_mismatch(*stale);
    const auto current = std::get<wrong_status>(result).current;
    throw business_error(
        "Cannot " + std::string(rule.name) + " an order that is " + std::string(to_string(current))
    );
}

}  // namespace svc::orders
