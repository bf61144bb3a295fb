#include "orders/model.hpp"

#include <algorithm>

namespace svc::orders {

std::string_view to_string(order_status status) {
    switch (status) {
        case order_status::pending:
            return "pending";
        case order_status::paid:
            return "paid";
        case order_status::shipped:
            return "shipped";
        case order_status::delivered:
            return "delivered";
        case order_status::cancelled:
            return "cancelled";
    }
    return "unknown";
}

std::optional<order_status> parse_order_status(std::string_view name) {
    const auto* found =
        std::ranges::find_if(k_all_order_statuses, [name](order_status s) { return to_string(s) == name; });
    if (found == std::ranges::end(k_all_order_statuses)) return std::nullopt;
    return *found;
}

}  // namespace svc::orders
