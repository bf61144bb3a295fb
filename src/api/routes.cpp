#include "api/routes.hpp"

#include <functional>

#include "api/bodies.hpp"
#include "api/errors.hpp"
#include "api/handlers.hpp"
#include "openapi/schema.hpp"
#include "orders/limits.hpp"

namespace svc::api {

namespace {

// Runs one endpoint and turns a domain error into the contract's error response. Every
// route goes through here, so to_problem() is the only mapping.
boost::asio::awaitable<http::response> guarded(
    orders::service& service, endpoint run, http::route_context& ctx
) {
    try {
        co_return co_await run(service, ctx);
    } catch (const orders::error& e) {
        throw http::problem_error(to_problem(e));
    }
}

http::handler bind(orders::service& service, endpoint run) {
    // A plain lambda returning a named coroutine: nothing captured lives in a coroutine frame
    // that could outlive it (service outlives the routes; ctx outlives the awaited call).
    return [&service, run](http::route_context& ctx) { return guarded(service, run, ctx); };
}

// ---- OpenAPI facts of the table, next to it. Bodies, queries and views are documented
// from their declarations in bodies.hpp (openapi::schema_of); what is written here is only
// what the handlers do: the success status and headers, and the domain errors they map.

constexpr std::string_view k_visible_ascii = "^[\\x21-\\x7E]+$";

boost::json::value idempotency_key_schema(boost::json::object& /*components*/) {
    return boost::json::object{
        {"type", "string"},
        {"minLength", 1},
        {"maxLength", orders::limits::k_idempotency_key_max_length},
        {"pattern", k_visible_ascii},
    };
}

http::header_doc if_match_header() {
    return {
        .name = "If-Match",
        .description =
            "`\"<version>\"` (the order's ETag), a list of them, or `*`: the change happens only "
            "while the order still has that version, else 412.",
    };
}

http::header_doc idempotency_key_header() {
    return {
        .name = "Idempotency-Key",
        .description =
            "1-255 visible ASCII characters. A repeat with the same body returns the stored status "
            "and body with `Idempotent-Replayed: true`; with another body 422; while the first is "
            "still running 409.",
        .schema = &idempotency_key_schema,
    };
}

// Examples of the views, as the contract shows them.
constexpr std::string_view k_order_example = R"({
    "id": "01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a10", "user_id": "alice", "status": "pending", "currency": "USD",
    "total_cents": 2598, "version": 1,
    "items": [{"product_id": "p1", "quantity": 2, "unit_price_cents": 1299, "line_total_cents": 2598}],
    "created_at": "2026-11-24T15:00:00.123456Z", "updated_at": "2026-11-24T15:00:00.123456Z"})";
constexpr std::string_view k_product_example = R"({
    "id": "p1", "name": "Coffee beans 1kg", "price_cents": 1299, "stock": 40,
    "created_at": "2026-11-24T15:00:00.123456Z", "updated_at": "2026-11-24T15:00:00.123456Z"})";

http::response_doc order_ok() {
    return {
        .status = 200,
        .description = "The order",
        .body = &openapi::schema_of<order_view>,
        .headers = {"ETag"},
        .example = std::string(k_order_example),
    };
}

http::response_doc product_ok() {
    return {
        .status = 200,
        .description = "The product",
        .body = &openapi::schema_of<product_view>,
        .example = std::string(k_product_example),
    };
}

http::response_doc business_error(std::string when) {
    return {.status = 400, .description = "`business_error` (" + std::move(when) + ") or `bad_request`"};
}

// An order action: POST /orders/{id}/<action>, If-Match optional.
http::route_doc action_doc(std::string summary, std::string operation_id, std::string refused_when) {
    return {
        .summary = std::move(summary),
        .operation_id = std::move(operation_id),
        .tag = "orders",
        .headers = {if_match_header()},
        .responses = {order_ok(), business_error(std::move(refused_when))},
    };
}

// The table itself; `bind_endpoint` makes each route's handler.
std::vector<http::route> table_of(const std::function<http::handler(endpoint)>& bind_endpoint) {
    using http::access;
    using http::method;
    using openapi::schema_of;
    using orders::order_action;
    std::vector<http::route> table;
    const auto add = [&](method m, std::string path, access who, endpoint run, http::route_doc d) {
        table.push_back(http::route{m, std::move(path), who, bind_endpoint(run), std::move(d)});
    };

    add(method::get,
        "/products",
        access::user,
        &list_products,
        {.summary = "List products by id",
         .operation_id = "listProducts",
         .tag = "products",
         .query = &schema_of<product_list_query>,
         .responses = {
             {.status = 200, .description = "A page of products", .body = &schema_of<product_page_view>}}});
    add(method::post,
        "/products",
        access::admin,
        &create_product,
        {.summary = "Create a product",
         .operation_id = "createProduct",
         .tag = "products",
         .request_body = &schema_of<product_create_body>,
         .request_example = R"({"id": "p1", "name": "Coffee beans 1kg", "price_cents": 1299, "stock": 40})",
         .responses = {
             {.status = 201,
              .description = "Created",
              .body = &schema_of<product_view>,
              .headers = {"Location"},
              .example = std::string(k_product_example)},
             {.status = 409, .description = "A product with this id exists"},
         }});
    add(method::get,
        "/products/{id}",
        access::user,
        &get_product,
        {.summary = "Get a product",
         .operation_id = "getProduct",
         .tag = "products",
         .responses = {product_ok()}});
    add(method::patch,
        "/products/{id}",
        access::admin,
        &update_product,
        {.summary = "Update a product's name, price or stock",
         .operation_id = "updateProduct",
         .tag = "products",
         .description = "Any subset of the fields; absent fields stay as they are.",
         .request_body = &schema_of<product_patch_body>,
         .request_example = R"({"price_cents": 1499, "stock": 35})",
         .responses = {product_ok()}});

    add(method::post,
        "/orders",
        access::user,
        &create_order,
        {.summary = "Create an order",
         .operation_id = "createOrder",
         .tag = "orders",
         .description = "Prices are taken from the products now; the stock of every item is taken atomically "
                        "with the order, or nothing is.",
         .request_body = &schema_of<order_create_body>,
         .request_example =
             R"({"items": [{"product_id": "p1", "quantity": 2}, {"product_id": "p7", "quantity": 1}]})",
         .headers = {idempotency_key_header()},
         .responses = {
             {.status = 201,
              .description =
                  "Created (or, with `Idempotent-Replayed: true`, the stored answer of the first request)",
              .body = &schema_of<order_view>,
              .headers = {"Location", "ETag", "Idempotent-Replayed"},
              .example = std::string(k_order_example)},
             {.status = 400,
              .description =
                  "`business_error` (insufficient stock, unknown product), or `bad_request` (malformed "
                  "JSON or Idempotency-Key)",
              .headers = {"Idempotent-Replayed"}},
             {.status = 403, .description = "`user_id` names someone else and the caller is not admin"},
             {.status = 409, .description = "A request with this Idempotency-Key is still in flight"},
         }});
    add(method::get,
        "/orders",
        access::user,
        &list_orders,
        {.summary = "List orders, newest first",
         .operation_id = "listOrders",
         .tag = "orders",
         .description = "The caller's own orders; admins see everyone's and may filter by `user_id`.",
         .query = &schema_of<order_list_query>,
         .responses = {
             {.status = 200, .description = "A page of orders", .body = &schema_of<order_page_view>},
             {.status = 403, .description = "A non-admin's `user_id` filter names someone else"},
         }});
    add(method::get,
        "/orders/{id}",
        access::user,
        &get_order,
        {.summary = "Get an order",
         .operation_id = "getOrder",
         .tag = "orders",
         .description = "Someone else's order is 404, exactly like a missing one.",
         .responses = {order_ok()}});
    add(method::patch,
        "/orders/{id}",
        access::user,
        &replace_order_items,
        {.summary = "Replace the items of a pending order",
         .operation_id = "replaceOrderItems",
         .tag = "orders",
         .description = "Stock is adjusted by the difference, atomically.",
         .request_body = &schema_of<order_items_body>,
         .request_example = R"({"items": [{"product_id": "p1", "quantity": 3}]})",
         .headers = {if_match_header()},
         .responses = {
             order_ok(), business_error("the order is not pending, insufficient stock, unknown product")}});
    add(method::post,
        "/orders/{id}/pay",
        access::user,
        &apply_order_action<order_action::pay>,
        action_doc("Pay a pending order", "payOrder", "the order is not pending"));
    add(method::post,
        "/orders/{id}/cancel",
        access::user,
        &apply_order_action<order_action::cancel>,
        action_doc(
            "Cancel a pending or paid order; its stock is returned",
            "cancelOrder",
            "the order is shipped or done"
        ));
    add(method::post,
        "/orders/{id}/ship",
        access::admin,
        &apply_order_action<order_action::ship>,
        action_doc("Ship a paid order", "shipOrder", "the order is not paid"));
    add(method::post,
        "/orders/{id}/deliver",
        access::admin,
        &apply_order_action<order_action::deliver>,
        action_doc("Mark a shipped order delivered", "deliverOrder", "the order is not shipped"));
    return table;
}

}  // namespace

std::vector<http::route> routes(orders::service& service) {
    return table_of([&service](endpoint run) { return bind(service, run); });
}

std::vector<http::route> routes_for_documentation() {
    return table_of([](endpoint) { return http::handler{}; });
}

}  // namespace svc::api
