#include "api/bodies.hpp"
#include "json/encode.hpp"

namespace svc::api {

product_view to_view(const orders::product& p) {
    return {
        .id = p.id,
        .name = p.name,
        .price_cents = p.price_cents,
        .stock = p.stock,
        .created_at = json::format_utc_micros(p.created_at),
        .updated_at = json::format_utc_micros(p.updated_at),
    };
}

order_view to_view(const orders::order& o) {
    order_view view{
        .id = o.id,
        .user_id = o.user_id,
        .status = o.status,
        .currency = o.currency,
        .total_cents = o.total_cents,
        .version = o.version,
        .items = {},
        .created_at = json::format_utc_micros(o.created_at),
        .updated_at = json::format_utc_micros(o.updated_at),
    };
    view.items.reserve(o.items.size());
    for (const auto& item : o.items) {
        view.items.push_back({item.product_id, item.quantity, item.unit_price_cents, item.line_total_cents});
    }
    return view;
}

}  // namespace svc::api
