#pragma once
// Internal to src/api: the handler functions behind routes(), and what they share.
// Each handler decodes and validates (api/request.hpp), calls the service, and maps the
// result to a response; domain errors are turned into problems by the route wrapper
// (routes.cpp), through api::to_problem.

#include <string>

#include <boost/asio/awaitable.hpp>

#include "http/router.hpp"
#include "orders/service.hpp"
#include "orders/state_machine.hpp"

namespace svc::api {

// A named coroutine per route. `ctx` is owned by the session and outlives the call (the
// router co_awaits the handler at once).
using endpoint = boost::asio::awaitable<http::response> (*)(orders::service&, http::route_context&);

boost::asio::awaitable<http::response> list_products(orders::service& service, http::route_context& ctx);
boost::asio::awaitable<http::response> get_product(orders::service& service, http::route_context& ctx);
boost::asio::awaitable<http::response> create_product(orders::service& service, http::route_context& ctx);
boost::asio::awaitable<http::response> update_product(orders::service& service, http::route_context& ctx);

boost::asio::awaitable<http::response> create_order(orders::service& service, http::route_context& ctx);
boost::asio::awaitable<http::response> list_orders(orders::service& service, http::route_context& ctx);
boost::asio::awaitable<http::response> get_order(orders::service& service, http::route_context& ctx);
boost::asio::awaitable<http::response> replace_order_items(
    orders::service& service, http::route_context& ctx
);
template <orders::order_action Action>
boost::asio::awaitable<http::response> apply_order_action(orders::service& service, http::route_context& ctx);

// The caller as the domain sees it. Only for routes with access user or admin.
orders::actor actor_of(const http::route_context& ctx);

// A JSON response with `status` and `body`.
http::response json_response(unsigned status, std::string body);

}  // namespace svc::api
