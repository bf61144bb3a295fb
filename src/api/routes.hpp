#pragma once
// The products and orders routes of the contract, as one table. src/app appends it to the
// system routes (/health, /ready, /metrics, /openapi.json, /docs) and hands the whole table
// to http::router and to the OpenAPI generator.

#include <vector>

#include "http/router.hpp"
#include "orders/service.hpp"

namespace svc::api {

// Every product and order route. `service` must outlive the returned routes; the handlers
// call it from any event loop (it is stateless and thread-safe).
std::vector<http::route> routes(orders::service& service);

// The same table with empty handlers, for documentation only (`orders-service openapi`
// prints the OpenAPI document without opening a database). Never serve it.
std::vector<http::route> routes_for_documentation();

}  // namespace svc::api
