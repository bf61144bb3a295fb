#pragma once
// The OpenAPI 3.1 document of a route table. Everything in it comes from the table: each
// route's method, path template, access and route_doc (src/http/router.hpp), plus the
// statuses, headers and error bodies that the route's shape implies (see response_doc).
// Nothing here knows a particular route.

#include <span>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "http/router.hpp"

namespace svc::openapi {

struct tag_info {
    std::string name;         // as in route_doc::tag
    std::string description;  // one sentence
};

// The document's front matter. Tags used by a route but not listed here are still emitted
// (without a description), after the listed ones.
struct document_info {
    std::string title = "orders-service";
    std::string version;  // the service's version, e.g. "0.1.0"
    std::string description;
    std::vector<tag_info> tags;
};

// The front matter of this service: its title, version and tag descriptions.
document_info service_info();

// Builds the document. Deterministic: the same table gives the same document, members in
// table order. Pure; call it once at start-up and keep the result.
// Throws std::invalid_argument when the table cannot be documented truthfully: an empty or
// duplicate operation_id, two routes with one method and path, a response header name the
// generator does not know, an example that is not JSON, or a query/path schema that
// is not an object.
boost::json::object build_document(std::span<const http::route> routes, const document_info& info);

// The document as indented JSON text (two spaces, one member per line, trailing newline):
// stable, diff-friendly output for `orders-service openapi`, /openapi.json and the lint.
std::string to_pretty_json(const boost::json::value& document);

}  // namespace svc::openapi
