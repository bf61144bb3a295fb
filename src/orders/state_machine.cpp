#include "orders/state_machine.hpp"

namespace svc::orders {

std::vector<order_status> status_set::to_vector() const {
    std::vector<order_status> out;
    for (const auto s : k_all_order_statuses) {
        if (contains(s)) out.push_back(s);
    }
    return out;
}

std::optional<order_action> parse_order_action(std::string_view name) {
    for (const auto& rule : k_actions) {
        if (rule.name == name) return rule.action;
    }
    return std::nullopt;
}

}  // namespace svc::orders
