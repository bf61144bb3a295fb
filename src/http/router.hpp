#pragma once
// Routes as data. One table of {method, path template, access, handler, docs} drives the
// router (404 vs 405 + Allow), the metrics `route` label and the OpenAPI document.

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json/fwd.hpp>

#include "auth/principal.hpp"
#include "http/message.hpp"

namespace svc::http {

// Who may call a route. `user` and `admin` need a valid bearer token; `admin` also the
// admin role (403 otherwise). Authentication runs before the body is parsed.
enum class access { public_, user, admin };

// Values captured from the path template's `{name}` segments, in template order.
struct path_params {
    std::vector<std::pair<std::string_view, std::string>> values;
    // The value of `{name}`; throws std::out_of_range when the template has no such name.
    const std::string& at(std::string_view name) const;
};

// Everything a handler receives. Lives on the session coroutine's frame for the duration
// of one request; handlers must not keep references past their own completion.
struct route_context {
    const http::request& request;
    http::path_params params;
    std::optional<auth::principal> principal;  // set for `user` and `admin` routes
    std::string_view request_id;
};

// Handlers run on the event loop that accepted the connection. They return a response or
// throw problem_error (any other exception becomes a 500 with no detail).
using handler = std::function<boost::asio::awaitable<response>(route_context&)>;

// ---- Documentation of a route, consumed only by the OpenAPI generator (src/openapi). ----
// Every field after `tag` is optional; a route that fills none of them is still documented
// (its path parameters, auth and the statuses its shape implies are derived).

// Returns the JSON Schema of a body or parameter type — usually
// {"$ref": "#/components/schemas/<Name>"} — after adding every named schema it refers to
// into `components` (name → schema). Made by openapi::schema_of<T>() from a described
// struct, so the router needs neither Boost.Describe nor Boost.JSON. Pure, no I/O.
using schema_fn = boost::json::value (*)(boost::json::object& components);

// A request header the route reads, e.g. Idempotency-Key or If-Match.
struct header_doc {
    std::string name{};
    std::string description{};
    schema_fn schema = nullptr;  // null: any string
    bool required = false;
};

// A status the route answers with itself. The generator adds, from the route's shape, the
// statuses any route of that shape can give: 401 (and 403 for admin) from `access`, 404 from
// path parameters, 400/415/422 from a request body, 400/422 from query parameters,
// 412 from an If-Match header, 413/429/431/500 everywhere, 503 on authenticated routes.
struct response_doc {
    unsigned status = 200;
    std::string description{};
    schema_fn body = nullptr;            // null: the error body for status >= 400, else none
    std::vector<std::string> headers{};  // response headers by name: "Location", "ETag", ...
    std::string content_type{};          // empty: application/json (when there is a body)
    std::string example{};               // a JSON text example of the body, optional
};

struct route_doc {
    std::string summary{};
    std::string operation_id{};
    std::string tag{};
    std::string description{};         // longer Markdown text, optional
    schema_fn request_body = nullptr;  // the JSON body the route reads, if any
    std::string request_example{};     // a JSON text example of that body, optional
    schema_fn query = nullptr;         // an object schema: each property is a query parameter
    schema_fn path = nullptr;          // an object schema for `{name}` parameters (default: strings)
    std::vector<header_doc> headers{};
    std::vector<response_doc> responses{};  // the success response first
};

struct route {
    http::method method;
    std::string path_template;  // e.g. "/orders/{id}/pay"; no trailing slash except "/"
    http::access access;
    http::handler handler;
    route_doc doc;
};

// The match for one request path.
struct match {
    const route* found = nullptr;  // null: 404 or 405
    http::path_params params;      // when found
    std::vector<method> allowed;   // when the path exists but not for this method (405)
};

// Immutable after construction; safe to share between event loops.
class router {
public:
    explicit router(std::vector<route> routes);

    // Matches `path` (already without the query, trailing slash optional) for `m`.
    // HEAD matches GET routes.
    match find(method m, std::string_view path) const;

    std::span<const route> routes() const { return routes_; }

private:
    std::vector<route> routes_;
    // Pre-split templates: segments_[i] belongs to routes_[i]; "{…}" segments are wildcards.
    std::vector<std::vector<std::string>> segments_;
};

}  // namespace svc::http
