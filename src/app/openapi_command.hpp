#pragma once
// The route table `serve` answers with, and the `openapi` command that documents it. Both
// build the table here, so the document `orders-service openapi` prints is the document
// GET /openapi.json serves.

#include <ostream>
#include <string>
#include <vector>

#include "app/system_routes.hpp"
#include "http/router.hpp"

namespace svc::app {

struct route_table {
    std::vector<http::route> routes;  // for http::router
    std::string document;             // the OpenAPI document GET /openapi.json serves
};

// System routes, then `api_routes`, then GET /openapi.json, /docs and /docs/{file}, whose
// document describes the whole table. `state` must outlive the returned routes. Throws
// std::invalid_argument when the table cannot be documented (see openapi::build_document).
route_table make_route_table(const service_state& state, std::vector<http::route> api_routes);

// `openapi`: writes the OpenAPI 3.1 document (indented JSON) of the route table to `out`,
// without opening a database or a socket. Returns the exit code: 0, or 1 if `out` failed.
int print_openapi(std::ostream& out);

}  // namespace svc::app
