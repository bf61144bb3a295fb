#include "api/routes.hpp"

#include "api/errors.hpp"
#include "api/handlers.hpp"

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

http::route_doc doc(std::string summary, std::string operation_id, std::string tag) {
    http::route_doc d;
    d.summary = std::move(summary);
    d.operation_id = std::move(operation_id);
    d.tag = std::move(tag);
    return d;
}

}  // namespace

std::vector<http::route> routes(orders::service& service) {
    using http::access;
    using http::method;
    using orders::order_action;
    std::vector<http::route> table;
    const auto add = [&](method m, std::string path, access who, endpoint run, http::route_doc d) {
        table.push_back(http::route{m, std::move(path), who, bind(service, run), std::move(d)});
    };

    add(method::get,
        "/products",
        access::user,
        &list_products,
        doc("List products by id", "listProducts", "products"));
    add(method::post,
        "/products",
        access::admin,
        &create_product,
        doc("Create a product", "createProduct", "products"));
    add(method::get,
        "/products/{id}",
        access::user,
        &get_product,
        doc("Get a product", "getProduct", "products"));
    add(method::patch,
        "/products/{id}",
        access::admin,
        &update_product,
        doc("Update a product's name, price or stock", "updateProduct", "products"));

    add(method::post, "/orders", access::user, &create_order, doc("Create an order", "createOrder", "orders")
    );
    add(method::get,
        "/orders",
        access::user,
        &list_orders,
        doc("List orders, newest first", "listOrders", "orders"));
    add(method::get, "/orders/{id}", access::user, &get_order, doc("Get an order", "getOrder", "orders"));
    add(method::patch,
        "/orders/{id}",
        access::user,
        &replace_order_items,
        doc("Replace the items of a pending order", "replaceOrderItems", "orders"));
    add(method::post,
        "/orders/{id}/pay",
        access::user,
        &apply_order_action<order_action::pay>,
        doc("Pay a pending order", "payOrder", "orders"));
    add(method::post,
        "/orders/{id}/cancel",
        access::user,
        &apply_order_action<order_action::cancel>,
        doc("Cancel a pending or paid order; its stock is returned", "cancelOrder", "orders"));
    add(method::post,
        "/orders/{id}/ship",
        access::admin,
        &apply_order_action<order_action::ship>,
        doc("Ship a paid order", "shipOrder", "orders"));
    add(method::post,
        "/orders/{id}/deliver",
        access::admin,
        &apply_order_action<order_action::deliver>,
        doc("Mark a shipped order delivered", "deliverOrder", "orders"));
    return table;
}

}  // namespace svc::api
