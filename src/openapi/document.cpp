#include "openapi/document.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <stdexcept>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "http/problem.hpp"

namespace svc::openapi {
namespace json = boost::json;

#ifndef ORDERS_SERVICE_VERSION
#define ORDERS_SERVICE_VERSION "0.0.0"
#endif

document_info service_info() {
    return {
        .title = "orders-service",
        .version = ORDERS_SERVICE_VERSION,
        .description =
            "Products, orders and their lifecycle (pending → paid → shipped → delivered, or "
            "cancelled). Money is integer minor units (`*_cents`); times are RFC 3339 UTC with "
            "microseconds. Every error has the body `{\"detail\": ..., \"type\": ...}`; every "
            "response carries `X-Request-ID`.",
        .tags =
            {
                {"products", "The catalogue: admins create and edit products, users read them."},
                {"orders", "Orders of the calling user (admins: of everyone) and their status transitions."},
                {"system", "Health, readiness, metrics and this documentation."},
            },
    };
}

namespace {

constexpr std::string_view k_bearer_scheme = "bearerAuth";

// The response headers a route_doc may name, with their documentation. A name outside this
// table is a typo or an undocumented header: build_document refuses it.
struct header_info {
    std::string_view name;
    std::string_view description;
    std::string_view schema_json;
};
constexpr std::array k_response_headers{
    header_info{
        "X-Request-ID",
        "The client's request id when it sent a sane one, else a new one.",
        R"({"type": "string"})"},
    header_info{
        "Location", "The URL of the created resource.", R"({"type": "string", "format": "uri-reference"})"},
    header_info{
        "ETag",
        "A strong entity tag. For an order: its version, e.g. `\"3\"`; send it back in `If-Match`.",
        R"({"type": "string", "pattern": "^\"[!#-~]*\"$"})"},
    header_info{
        "Idempotent-Replayed",
        "`true` when this is the stored response of an earlier request with the same "
        "`Idempotency-Key`; nothing was created again.",
        R"({"type": "string", "enum": ["true"]})"},
    header_info{"Retry-After", "Seconds to wait before retrying.", R"({"type": "integer", "minimum": 0})"},
    header_info{
        "WWW-Authenticate",
        "`Bearer`, plus `error=\"invalid_token\"` when a token was given.",
        R"({"type": "string"})"},
    header_info{"Allow", "The methods the path supports.", R"({"type": "string"})"},
    header_info{"Cache-Control", "How long the response may be reused.", R"({"type": "string"})"},
    header_info{"Vary", "`Accept-Encoding`: the file also exists gzip-compressed.", R"({"type": "string"})"},
    header_info{
        "Content-Encoding",
        "`gzip` when the client's Accept-Encoding admits it.",
        R"({"type": "string", "enum": ["gzip"]})"},
};

const header_info* find_response_header(std::string_view name) {
    const auto it = std::ranges::find(k_response_headers, name, &header_info::name);
    return it == k_response_headers.end() ? nullptr : &*it;
}

// Component names of the shared pieces.
std::string component_name(std::string_view header_name) {
    std::string out;
    for (const char c : header_name) {
        if (c != '-') {
            out.push_back(c);
        }
    }
    return out;
}

json::value ref(std::string_view section, std::string_view name) {
    std::string target = "#/components/";
    target += section;
    target += '/';
    target += name;
    return json::object{{"$ref", target}};
}

// ---------------------------------------------------------------- error responses

// Every `type` the contract's error table names (plus the server's 408 for a request that
// is not received in time), for the error body's schema.
constexpr std::array<std::string_view, 17> k_problem_types{
    "business_error",
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "request_timeout",
    "conflict",
    "precondition_failed",
    "payload_too_large",
    "unsupported_media_type",
    "headers_too_large",
    "validation_error",
    "rate_limited",
    "internal_error",
    "unavailable",
    "outcome_unknown",
};

json::object problem_schema() {
    json::array types;
    for (const auto t : k_problem_types) {
        types.emplace_back(t);
    }
    return {
        {"type", "object"},
        {"description", "The body of every error response."},
        {"required", json::array{"detail", "type"}},
        {"properties",
         json::object{
             {"detail",
              json::object{{"type", "string"}, {"description", "One human sentence; never internals."}}},
             {"type", json::object{{"type", "string"}, {"enum", std::move(types)}}},
         }},
        {"additionalProperties", false},
    };
}

json::object validation_problem_schema() {
    json::object field_error{
        {"type", "object"},
        {"required", json::array{"loc", "msg", "type"}},
        {"properties",
         json::object{
             {"loc",
              json::object{
                  {"type", "array"},
                  {"description",
                   "Where the error is: `[\"body\", \"items\", 0, \"quantity\"]`, `[\"query\", \"limit\"]`."},
                  {"minItems", 1},
                  {"items", json::object{{"type", json::array{"string", "integer"}}}},
              }},
             {"msg", json::object{{"type", "string"}}},
             {"type",
              json::object{
                  {"type", "string"}, {"description", "e.g. `missing`, `int_type`, `less_than_equal`."}}},
         }},
        {"additionalProperties", false},
    };
    return {
        {"type", "object"},
        {"description",
         "The body of a 422 response: the error body plus the fields that broke the schema, the first "
         "ones found (when more were, `detail` says the list is cut)."},
        {"required", json::array{"detail", "type", "errors"}},
        {"properties",
         json::object{
             {"detail", json::object{{"type", "string"}}},
             {"type", json::object{{"const", "validation_error"}}},
             {"errors", json::object{{"type", "array"}, {"minItems", 1}, {"items", std::move(field_error)}}},
         }},
        {"additionalProperties", false},
    };
}

// The statuses a route's shape implies, each a reusable component response.
struct implied_response {
    unsigned status;
    std::string_view component;
    std::string_view description;
    std::string_view example_detail;
    std::string_view header;  // one extra response header, or empty
};
constexpr std::array k_implied_responses{
    implied_response{
        400,
        "BadRequest",
        "Malformed JSON, header, cursor or query parameter.",
        "Request body is not valid JSON",
        ""},
    implied_response{
        401,
        "Unauthorized",
        "No, malformed, badly signed or expired bearer token.",
        "Token has expired",
        "WWW-Authenticate"},
    implied_response{
        403, "Forbidden", "Authenticated, but not allowed to do this.", "Admin role required", ""},
    implied_response{404, "NotFound", "No such resource, or not the caller's.", "Order not found", ""},
    implied_response{
        412,
        "PreconditionFailed",
        "`If-Match` does not match the current version.",
        "Version does not match If-Match",
        ""},
    implied_response{
        413,
        "PayloadTooLarge",
        "Body over the configured limit (default 1 MiB).",
        "Request body too large",
        ""},
    implied_response{
        415,
        "UnsupportedMediaType",
        "The body is not `application/json`.",
        "Content-Type must be application/json",
        ""},
    implied_response{
        422,
        "ValidationError",
        "Well-formed JSON or query that breaks the schema.",
        "Request validation failed",
        ""},
    implied_response{
        429,
        "RateLimited",
        "Over the configured per-client request rate.",
        "Too many requests",
        "Retry-After"},
    implied_response{
        431,
        "HeadersTooLarge",
        "Request headers over the configured limit (default 16 KiB).",
        "Request headers too large",
        ""},
    implied_response{
        500, "InternalError", "A bug. The body never carries internals.", "Internal server error", ""},
    implied_response{
        503,
        "Unavailable",
        "Database unreachable, pool exhausted or shutting down (type unavailable: a write was not "
        "made); or the connection was lost while a write committed and its outcome could not be "
        "settled (type outcome_unknown: retry only with the same Idempotency-Key).",
        "Service unavailable",
        "Retry-After"},
};

const implied_response& implied(unsigned status) {
    const auto it = std::ranges::find(k_implied_responses, status, &implied_response::status);
    if (it == k_implied_responses.end()) {
        throw std::logic_error("no implied response for this status");
    }
    return *it;
}

json::object problem_example(unsigned status, std::string_view detail, bool route_listed) {
    const std::string_view type =
        status == 400 && route_listed ? "business_error" : http::default_problem_type(status);
    json::object example{{"detail", detail}, {"type", type}};
    if (status == 422) {
        example["errors"] = json::array{json::object{
            {"loc", json::array{"body", "items", 0, "quantity"}},
            {"msg", "Input should be less than or equal to 10000"},
            {"type", "less_than_equal"},
        }};
    }
    return example;
}

json::object headers_object(std::span<const std::string> names) {
    json::object headers{{"X-Request-ID", ref("headers", component_name("X-Request-ID"))}};
    for (const auto& name : names) {
        if (find_response_header(name) == nullptr) {
            throw std::invalid_argument("route_doc names an unknown response header: " + name);
        }
        headers[name] = ref("headers", component_name(name));
    }
    return headers;
}

// The error body of `status`, with its `type` pinned to what the service sends for it
// (http::default_problem_type; a 400 a route lists itself may also be a `business_error`).
json::value error_schema(unsigned status, bool route_listed) {
    if (status == 422) {
        return ref("schemas", "ValidationProblem");
    }
    json::object type{{"const", http::default_problem_type(status)}};
    if (status == 400 && route_listed) {
        type = json::object{{"enum", json::array{"bad_request", "business_error"}}};
    }
    return json::object{
        {"allOf",
         json::array{
             ref("schemas", "Problem"),
             json::object{{"properties", json::object{{"type", std::move(type)}}}}}},
    };
}

json::object error_content(unsigned status, std::string_view example_detail, bool route_listed) {
    const auto schema = error_schema(status, route_listed);
    return {
        {"application/json",
         json::object{
             {"schema", schema}, {"example", problem_example(status, example_detail, route_listed)}}}};
}

json::object component_responses() {
    json::object out;
    for (const auto& r : k_implied_responses) {
        std::vector<std::string> extra;
        if (!r.header.empty()) {
            extra.emplace_back(r.header);
        }
        out[r.component] = json::object{
            {"description", r.description},
            {"headers", headers_object(extra)},
            {"content", error_content(r.status, r.example_detail, false)},
        };
    }
    return out;
}

json::object component_headers() {
    json::object out;
    for (const auto& h : k_response_headers) {
        json::object header{{"description", h.description}, {"schema", json::parse(h.schema_json)}};
        if (h.name == "X-Request-ID") {
            header["required"] = true;  // on every response
        }
        out[component_name(h.name)] = std::move(header);
    }
    return out;
}

// ---------------------------------------------------------------- operations

std::string lower(std::string_view s) {
    std::string out(s);
    std::ranges::transform(out, out.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    return out;
}

std::vector<std::string> path_parameter_names(std::string_view path_template) {
    std::vector<std::string> names;
    for (std::size_t open = path_template.find('{'); open != std::string_view::npos;
         open = path_template.find('{', open + 1)) {
        const auto close = path_template.find('}', open);
        if (close == std::string_view::npos) {
            throw std::invalid_argument("unclosed '{' in a path template");
        }
        names.emplace_back(path_template.substr(open + 1, close - open - 1));
    }
    return names;
}

// Calls an object-schema function and returns the object's schema itself (following one
// $ref); every other named schema it brought along goes into `schemas`. The object's own
// component is left out: its properties become parameters, the object is never a body.
json::object expand_object_schema(http::schema_fn fn, json::object& schemas) {
    json::object scratch;
    json::value top = fn(scratch);
    std::string own_name;
    if (const auto* obj = top.if_object(); obj != nullptr && obj->contains("$ref")) {
        const std::string_view target = obj->at("$ref").as_string();
        own_name = std::string(target.substr(target.rfind('/') + 1));
        top = scratch.at(own_name);
    }
    for (auto& [name, schema] : scratch) {
        if (name != own_name) {
            schemas[name] = schema;
        }
    }
    if (!top.is_object() || !top.as_object().contains("properties")) {
        throw std::invalid_argument("a query or path schema must be an object with properties");
    }
    return top.as_object();
}

// A parameter's value is text, never JSON null: drop the null that an optional member's
// schema allows ({"type": [T, "null"]} → {"type": T}; {"anyOf": [S, {"type": "null"}]} → S).
json::object without_null(json::object schema) {
    if (auto* type = schema.if_contains("type"); type != nullptr && type->is_array()) {
        json::array kept;
        for (const auto& t : type->as_array()) {
            if (t != "null") {
                kept.push_back(t);
            }
        }
        *type = kept.size() == 1 ? kept.front() : json::value(std::move(kept));
        if (auto* values = schema.if_contains("enum"); values != nullptr && values->is_array()) {
            json::array non_null;
            for (const auto& v : values->as_array()) {
                if (!v.is_null()) {
                    non_null.push_back(v);
                }
            }
            *values = std::move(non_null);
        }
        return schema;
    }
    if (const auto* any_of = schema.if_contains("anyOf"); any_of != nullptr && any_of->is_array()) {
        const auto& branches = any_of->as_array();
        if (branches.size() == 2 && branches[1] == json::value(json::object{{"type", "null"}}) &&
            branches[0].is_object()) {
            json::object inner = branches[0].as_object();
            for (const auto& [key, value] : schema) {
                if (key != "anyOf") {
                    inner[key] = value;
                }
            }
            return inner;
        }
    }
    return schema;
}

bool contains_name(const json::value& required, std::string_view name) {
    const auto* list = required.if_array();
    if (list == nullptr) {
        return false;
    }
    return std::ranges::any_of(*list, [&](const json::value& v) {
        return v.is_string() && v.as_string() == name;
    });
}

json::array parameters_of(const http::route& r, json::object& schemas) {
    json::array params;

    json::object path_schema;
    if (r.doc.path != nullptr) {
        path_schema = expand_object_schema(r.doc.path, schemas);
    }
    for (const auto& name : path_parameter_names(r.path_template)) {
        json::value schema = json::object{{"type", "string"}};
        if (const auto* props = path_schema.if_contains("properties"); props != nullptr) {
            if (const auto* s = props->as_object().if_contains(name); s != nullptr) {
                schema = without_null(s->as_object());
            }
        }
        params.push_back(json::object{{"name", name}, {"in", "path"}, {"required", true}, {"schema", schema}}
        );
    }

    if (r.doc.query != nullptr) {
        const auto query = expand_object_schema(r.doc.query, schemas);
        const json::value* required = query.if_contains("required");
        for (const auto& [name, schema] : query.at("properties").as_object()) {
            json::object p{
                {"name", name},
                {"in", "query"},
                {"required", required != nullptr && contains_name(*required, name)}};
            json::object s = without_null(schema.as_object());
            // A parameter's description belongs to the parameter, where Swagger UI shows it.
            if (const auto* d = s.if_contains("description"); d != nullptr) {
                p["description"] = *d;
                s.erase("description");
            }
            p["schema"] = std::move(s);
            params.push_back(std::move(p));
        }
    }

    for (const auto& h : r.doc.headers) {
        json::object p{{"name", h.name}, {"in", "header"}, {"required", h.required}};
        if (!h.description.empty()) {
            p["description"] = h.description;
        }
        p["schema"] = h.schema != nullptr ? h.schema(schemas) : json::value(json::object{{"type", "string"}});
        params.push_back(std::move(p));
    }
    return params;
}

bool reads_header(const http::route& r, std::string_view name) {
    return std::ranges::any_of(r.doc.headers, [&](const http::header_doc& h) {
        return lower(h.name) == lower(name);
    });
}

// An example written as JSON text in a route_doc; throws std::invalid_argument naming `what`.
json::value parse_example(std::string_view text, std::string_view what) {
    boost::system::error_code ec;
    auto example = json::parse(text, ec);
    if (ec) {
        throw std::invalid_argument("the example of " + std::string(what) + " is not JSON");
    }
    return example;
}

json::object explicit_response(const http::response_doc& d, json::object& schemas) {
    json::object out{
        {"description",
         d.description.empty() ? std::string(http::default_problem_type(d.status)) : d.description},
        {"headers", headers_object(d.headers)},
    };
    const std::string content_type = d.content_type.empty() ? "application/json" : d.content_type;
    if (d.body != nullptr) {
        json::object media{{"schema", d.body(schemas)}};
        if (!d.example.empty()) {
            media["example"] = parse_example(d.example, "a response example");
        }
        out["content"] = json::object{{content_type, std::move(media)}};
    } else if (d.status >= 400) {
        out["content"] =
            error_content(d.status, d.description.empty() ? "Request failed" : d.description, true);
    } else if (!d.content_type.empty()) {
        out["content"] =
            json::object{{content_type, json::object{{"schema", json::object{{"type", "string"}}}}}};
    }
    return out;
}

json::object responses_of(const http::route& r, json::object& schemas) {
    std::map<unsigned, json::value> by_status;  // sorted: the document lists them in order
    for (const auto& d : r.doc.responses) {
        by_status.emplace(d.status, explicit_response(d, schemas));
    }

    const bool has_body = r.doc.request_body != nullptr;
    const bool has_query = r.doc.query != nullptr;
    // The server answers 413 and 431 before routing, so any route can give them.
    std::set<unsigned> implied_statuses{413, 429, 431, 500};
    if (has_body || has_query || !r.doc.headers.empty()) {
        implied_statuses.insert(400);
    }
    if (r.access != http::access::public_) {
        implied_statuses.insert({401, 503});
    }
    if (r.access == http::access::admin) {
        implied_statuses.insert(403);
    }
    if (r.path_template.find('{') != std::string::npos) {
        // A path parameter that decodes to text the service refuses (a NUL, invalid UTF-8)
        // is answered 400 by the HTTP layer before the handler runs.
        implied_statuses.insert({400, 404});
    }
    if (reads_header(r, "If-Match")) {
        implied_statuses.insert(412);
    }
    if (has_body) {
        implied_statuses.insert({415, 422});
    }
    if (has_query) {
        implied_statuses.insert(422);
    }
    for (const unsigned s : implied_statuses) {
        by_status.emplace(s, ref("responses", implied(s).component));  // an explicit one wins
    }

    json::object out;
    for (auto& [status, response] : by_status) {
        out[std::to_string(status)] = std::move(response);
    }
    return out;
}

json::object operation_of(const http::route& r, json::object& schemas) {
    const auto& d = r.doc;
    json::object op;
    if (!d.tag.empty()) {
        op["tags"] = json::array{d.tag};
    }
    op["summary"] = d.summary;
    std::string description = d.description;
    if (r.access == http::access::admin) {
        description += std::string(description.empty() ? "" : "\n\n") + "Requires the `admin` role.";
    }
    if (!description.empty()) {
        op["description"] = description;
    }
    op["operationId"] = d.operation_id;
    if (auto params = parameters_of(r, schemas); !params.empty()) {
        op["parameters"] = std::move(params);
    }
    if (d.request_body != nullptr) {
        json::object media{{"schema", d.request_body(schemas)}};
        if (!d.request_example.empty()) {
            media["example"] = parse_example(d.request_example, d.operation_id);
        }
        op["requestBody"] =
            json::object{{"required", true}, {"content", json::object{{"application/json", media}}}};
    }
    op["responses"] = responses_of(r, schemas);
    // Public routes opt out of the document-wide bearer requirement.
    if (r.access == http::access::public_) {
        op["security"] = json::array{};
    }
    return op;
}

// Every "$ref" string under `node`.
void collect_refs(const json::value& node, std::set<std::string>& out) {
    if (const auto* obj = node.if_object()) {
        if (const auto* target = obj->if_contains("$ref"); target != nullptr && target->is_string()) {
            out.emplace(target->get_string());
        }
        for (const auto& [key, child] : *obj) {
            collect_refs(child, out);
        }
    } else if (const auto* arr = node.if_array()) {
        for (const auto& child : *arr) {
            collect_refs(child, out);
        }
    }
}

// The shared response headers the document refers to, and only those (a component nothing
// uses would document a header no route sends).
json::object used_headers(const json::object& paths, const json::object& responses) {
    std::set<std::string> refs;
    collect_refs(paths, refs);
    collect_refs(responses, refs);
    json::object out;
    for (auto& [name, header] : component_headers()) {
        if (refs.contains("#/components/headers/" + std::string(name))) {
            out[name] = header;
        }
    }
    return out;
}

}  // namespace

json::object build_document(std::span<const http::route> routes, const document_info& info) {
    json::object schemas{{"Problem", problem_schema()}, {"ValidationProblem", validation_problem_schema()}};
    json::object paths;
    std::set<std::string> operation_ids;
    std::vector<std::string> route_tags;

    for (const auto& r : routes) {
        if (r.doc.operation_id.empty()) {
            throw std::invalid_argument("route " + r.path_template + " has no operation_id");
        }
        if (!operation_ids.insert(r.doc.operation_id).second) {
            throw std::invalid_argument("duplicate operation_id " + r.doc.operation_id);
        }
        if (!r.doc.tag.empty() && std::ranges::find(route_tags, r.doc.tag) == route_tags.end()) {
            route_tags.push_back(r.doc.tag);
        }

        auto& item = paths[r.path_template];
        if (item.is_null()) {
            item = json::object{};
        }
        const std::string method = lower(http::to_string(r.method));
        if (item.as_object().contains(method)) {
            throw std::invalid_argument("two routes for " + method + " " + r.path_template);
        }
        item.as_object()[method] = operation_of(r, schemas);
    }

    json::array tags;
    for (const auto& t : info.tags) {
        if (std::ranges::find(route_tags, t.name) != route_tags.end()) {
            tags.push_back(json::object{{"name", t.name}, {"description", t.description}});
        }
    }
    for (const auto& name : route_tags) {
        if (std::ranges::find(info.tags, name, &tag_info::name) == info.tags.end()) {
            tags.push_back(json::object{{"name", name}});
        }
    }

    json::object responses = component_responses();
    json::object headers = used_headers(paths, responses);
    json::object info_object{{"title", info.title}, {"version", info.version}};
    if (!info.description.empty()) {
        info_object["description"] = info.description;
    }
    info_object["license"] = json::object{{"name", "Proprietary"}, {"identifier", "LicenseRef-Proprietary"}};

    return {
        {"openapi", "3.1.0"},
        {"info", std::move(info_object)},
        {"jsonSchemaDialect", "https://spec.openapis.org/oas/3.1/dialect/base"},
        {"servers",
         json::array{json::object{{"url", "/"}, {"description", "The server that serves this document."}}}},
        {"security", json::array{json::object{{k_bearer_scheme, json::array{}}}}},
        {"tags", std::move(tags)},
        {"paths", std::move(paths)},
        {"components",
         json::object{
             {"schemas", std::move(schemas)},
             {"responses", std::move(responses)},
             {"headers", std::move(headers)},
             {"securitySchemes",
              json::object{
                  {k_bearer_scheme,
                   json::object{
                       {"type", "http"},
                       {"scheme", "bearer"},
                       {"bearerFormat", "JWT"},
                       {"description",
                        "A JWT with `sub` (the user) and `exp`; the role `admin` (claim "
                        "`roles`, or scope `orders:admin`) grants the admin routes."},
                   }}}},
         }},
    };
}

// ---------------------------------------------------------------- pretty printing

namespace {

void indent(std::string& out, int depth) {
    out.append(static_cast<std::size_t>(depth) * 2, ' ');
}

void write_pretty(std::string& out, const json::value& v, int depth) {
    switch (v.kind()) {
        case json::kind::object: {
            const auto& obj = v.get_object();
            if (obj.empty()) {
                out += "{}";
                return;
            }
            out += "{\n";
            bool first = true;
            for (const auto& [key, member] : obj) {
                if (!first) {
                    out += ",\n";
                }
                first = false;
                indent(out, depth + 1);
                out += json::serialize(json::string_view(key));
                out += ": ";
                write_pretty(out, member, depth + 1);
            }
            out += '\n';
            indent(out, depth);
            out += '}';
            return;
        }
        case json::kind::array: {
            const auto& arr = v.get_array();
            if (arr.empty()) {
                out += "[]";
                return;
            }
            out += "[\n";
            bool first = true;
            for (const auto& element : arr) {
                if (!first) {
                    out += ",\n";
                }
                first = false;
                indent(out, depth + 1);
                write_pretty(out, element, depth + 1);
            }
            out += '\n';
            indent(out, depth);
            out += ']';
            return;
        }
        default:
            out += json::serialize(v);
    }
}

}  // namespace

std::string to_pretty_json(const json::value& document) {
    std::string out;
    write_pretty(out, document, 0);
    out += '\n';
    return out;
}

}  // namespace svc::openapi
