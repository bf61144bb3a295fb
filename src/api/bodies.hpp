#pragma once
// The HTTP shapes of the products and orders API: request bodies, query parameters and
// response bodies, as described structs. Each constraint is declared once, here, in the
// struct's k_rules (values from orders/limits.hpp); json::decode_body / decode_query enforce
// them and openapi::schema_of documents them from the same declarations.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/describe/class.hpp>

#include "json/rules.hpp"
#include "orders/limits.hpp"
#include "orders/model.hpp"

namespace svc::api {

namespace lim = orders::limits;

inline constexpr json::field_rule k_product_id_rule{
    .field = "id",
    .min_length = 1,
    .max_length = lim::k_product_id_max_length,
    .pattern = json::text_pattern::identifier,
};

// ---------------------------------------------------------------- requests

struct product_create_body {
    std::string id;
    std::string name;
    std::int64_t price_cents = 0;
    std::int64_t stock = 0;

    static constexpr std::string_view k_schema_name = "ProductCreate";
    static constexpr json::field_rule k_rules[] = {
        k_product_id_rule,
        {.field = "name", .min_length = 1, .max_length = lim::k_product_name_max_length},
        {.field = "price_cents",
         .minimum = 0,
         .maximum = lim::k_max_price_cents,
         .description = "Minor units."},
        {.field = "stock", .minimum = 0, .maximum = lim::k_max_stock},
    };
};
BOOST_DESCRIBE_STRUCT(product_create_body, (), (id, name, price_cents, stock))

// Any subset of the fields; absent (or null) fields stay unchanged.
struct product_patch_body {
    std::optional<std::string> name;
    std::optional<std::int64_t> price_cents;
    std::optional<std::int64_t> stock;

    static constexpr std::string_view k_schema_name = "ProductPatch";
    static constexpr json::field_rule k_rules[] = {
        {.field = "name", .min_length = 1, .max_length = lim::k_product_name_max_length},
        {.field = "price_cents", .minimum = 0, .maximum = lim::k_max_price_cents},
        {.field = "stock", .minimum = 0, .maximum = lim::k_max_stock},
    };
};
BOOST_DESCRIBE_STRUCT(product_patch_body, (), (name, price_cents, stock))

struct item_body {
    std::string product_id;
    std::int64_t quantity = 0;

    static constexpr std::string_view k_schema_name = "ItemRequest";
    static constexpr json::field_rule k_rules[] = {
        {.field = "product_id",
         .min_length = 1,
         .max_length = lim::k_product_id_max_length,
         .pattern = json::text_pattern::identifier},
        {.field = "quantity", .minimum = lim::k_min_quantity, .maximum = lim::k_max_quantity},
    };
};
BOOST_DESCRIBE_STRUCT(item_body, (), (product_id, quantity))

inline constexpr json::field_rule k_items_rule{
    .field = "items",
    .min_items = lim::k_min_items,
    .max_items = lim::k_max_items,
    .unique_by = "product_id",
};

struct order_create_body {
    // Accepted for compatibility: equal to the token's sub it is ignored; otherwise the
    // order is created for that user, which needs admin. A string, like `sub`: a number here
    // breaks the schema (422) before the admin rule is looked at.
    std::optional<std::string> user_id;
    std::vector<item_body> items;

    static constexpr std::string_view k_schema_name = "OrderCreate";
    static constexpr json::field_rule k_rules[] = {
        {.field = "user_id",
         .min_length = 1,
         .max_length = lim::k_user_id_max_length,
         .pattern = json::text_pattern::visible,
         .description = "Optional; compared with the token's sub, another user needs admin."},
        k_items_rule,
    };
};
BOOST_DESCRIBE_STRUCT(order_create_body, (), (user_id, items))

struct order_items_body {
    std::vector<item_body> items;

    static constexpr std::string_view k_schema_name = "OrderItemsReplace";
    static constexpr json::field_rule k_rules[] = {k_items_rule};
};
BOOST_DESCRIBE_STRUCT(order_items_body, (), (items))

inline constexpr json::field_rule k_limit_rule{
    .field = "limit",
    .minimum = 1,
    .maximum = static_cast<std::int64_t>(lim::k_max_page_size),
    .default_integer = static_cast<std::int64_t>(lim::k_default_page_size),
    .description = "Page size.",
};
inline constexpr json::field_rule k_cursor_rule{
    .field = "cursor",
    .description = "The next_cursor of the previous page; opaque.",
};

struct product_list_query {
    std::optional<std::int64_t> limit;
    std::optional<std::string> cursor;

    static constexpr json::field_rule k_rules[] = {k_limit_rule, k_cursor_rule};
};
BOOST_DESCRIBE_STRUCT(product_list_query, (), (limit, cursor))

struct order_list_query {
    std::optional<std::int64_t> limit;
    std::optional<std::string> cursor;
    std::optional<orders::order_status> status;
    std::optional<std::string> user_id;

    static constexpr json::field_rule k_rules[] = {
        k_limit_rule,
        k_cursor_rule,
        {.field = "user_id",
         .min_length = 1,
         .max_length = lim::k_user_id_max_length,
         .pattern = json::text_pattern::visible,
         .description = "Admins: only this user's orders. Others: must be their own sub."},
    };
};
BOOST_DESCRIBE_STRUCT(order_list_query, (), (limit, cursor, status, user_id))

// ---------------------------------------------------------------- responses

inline constexpr json::field_rule k_created_at_rule{.field = "created_at", .format = "date-time"};
inline constexpr json::field_rule k_updated_at_rule{.field = "updated_at", .format = "date-time"};

struct product_view {
    std::string id;
    std::string name;
    std::int64_t price_cents = 0;
    std::int64_t stock = 0;
    std::string created_at;  // RFC 3339 UTC, microseconds
    std::string updated_at;

    static constexpr std::string_view k_schema_name = "Product";
    static constexpr json::field_rule k_rules[] = {k_created_at_rule, k_updated_at_rule};
};
BOOST_DESCRIBE_STRUCT(product_view, (), (id, name, price_cents, stock, created_at, updated_at))

struct order_item_view {
    std::string product_id;
    std::int64_t quantity = 0;
    std::int64_t unit_price_cents = 0;
    std::int64_t line_total_cents = 0;

    static constexpr std::string_view k_schema_name = "OrderItem";
};
BOOST_DESCRIBE_STRUCT(order_item_view, (), (product_id, quantity, unit_price_cents, line_total_cents))

struct order_view {
    std::string id;
    std::string user_id;
    orders::order_status status = orders::order_status::pending;
    std::string currency;
    std::int64_t total_cents = 0;
    std::int64_t version = 0;
    std::vector<order_item_view> items;
    std::string created_at;
    std::string updated_at;

    static constexpr std::string_view k_schema_name = "Order";
    static constexpr json::field_rule k_rules[] = {
        {.field = "id", .format = "uuid", .description = "UUIDv7, time-ordered."},
        {.field = "version", .description = "1 at creation, +1 on every change; sent as the ETag."},
        k_created_at_rule,
        k_updated_at_rule,
    };
};
BOOST_DESCRIBE_STRUCT(
    order_view, (), (id, user_id, status, currency, total_cents, version, items, created_at, updated_at)
)

struct product_page_view {
    std::vector<product_view> data;
    std::optional<std::string> next_cursor;  // null on the last page

    static constexpr std::string_view k_schema_name = "ProductPage";
};
BOOST_DESCRIBE_STRUCT(product_page_view, (), (data, next_cursor))

struct order_page_view {
    std::vector<order_view> data;
    std::optional<std::string> next_cursor;

    static constexpr std::string_view k_schema_name = "OrderPage";
};
BOOST_DESCRIBE_STRUCT(order_page_view, (), (data, next_cursor))

// Domain → view.
product_view to_view(const orders::product& p);
order_view to_view(const orders::order& o);

}  // namespace svc::api
