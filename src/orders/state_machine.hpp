#pragma once
// The order status state machine as one table. Every transition the service performs is a
// row of k_actions; every pair not in the table is forbidden. Pure and constexpr, so the
// table test can enumerate it and the OpenAPI docs can describe it.
//
//   pending → paid → shipped → delivered
//   pending | paid → cancelled (stock is returned)

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <vector>

#include "orders/model.hpp"

namespace svc::orders {

enum class order_action : std::uint8_t { pay, cancel, ship, deliver };

// A set of statuses as a bitmask (constexpr-friendly).
class status_set {
public:
    constexpr status_set() = default;
    constexpr status_set(std::initializer_list<order_status> statuses) {
        for (const auto s : statuses) bits_ |= bit(s);
    }
    constexpr bool contains(order_status s) const { return (bits_ & bit(s)) != 0; }
    std::vector<order_status> to_vector() const;

private:
    static constexpr std::uint8_t bit(order_status s) {
        return static_cast<std::uint8_t>(1U << static_cast<unsigned>(s));
    }
    std::uint8_t bits_ = 0;
};

// Who may perform an action on an order.
enum class action_access : std::uint8_t { owner_or_admin, admin };

struct action_rule {
    order_action action;
    std::string_view name;  // the route segment: POST /orders/{id}/<name>
    status_set from;
    order_status to;
    action_access access;
    bool restock;  // the order's units go back to stock
};

inline constexpr action_rule k_actions[] = {
    {order_action::pay,
     "pay",
     {order_status::pending},
     order_status::paid,
     action_access::owner_or_admin,
     false},
    {order_action::cancel,
     "cancel",
     {order_status::pending, order_status::paid},
     order_status::cancelled,
     action_access::owner_or_admin,
     true},
    {order_action::ship, "ship", {order_status::paid}, order_status::shipped, action_access::admin, false},
    {order_action::deliver,
     "deliver",
     {order_status::shipped},
     order_status::delivered,
     action_access::admin,
     false},
};

// The row of k_actions for `action` (every action has exactly one).
constexpr const action_rule& rule_for(order_action action) {
    for (const auto& rule : k_actions) {
        if (rule.action == action) return rule;
    }
    return k_actions[0];  // unreachable: the table covers every enumerator (tested)
}

// True when some action moves an order from `from` to `to`.
constexpr bool is_allowed_transition(order_status from, order_status to) {
    for (const auto& rule : k_actions) {
        if (rule.to == to && rule.from.contains(from)) return true;
    }
    return false;
}

// Items can be replaced only while the order is pending.
constexpr bool items_modifiable(order_status status) {
    return status == order_status::pending;
}

// "pay", "cancel", ... → the action, or nullopt.
std::optional<order_action> parse_order_action(std::string_view name);

}  // namespace svc::orders
