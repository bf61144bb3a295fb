#include "app/system_routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "http/problem.hpp"
#include "observability/metrics.hpp"

namespace svc::app {

namespace {

using boost::asio::awaitable;

awaitable<http::response> health(http::route_context& /*context*/) {
    http::response res;
    res.body = R"({"status":"ok"})";
    co_return res;
}

awaitable<http::response> ready(const service_state& state, http::route_context& /*context*/) {
    std::optional<std::string> not_ready;
    if (state.draining.load(std::memory_order_acquire)) {
        not_ready = "Shutting down";
    } else if (state.readiness_check) {
        not_ready = co_await state.readiness_check();
    }
    if (not_ready) {
        http::problem p{503, "unavailable", std::move(*not_ready), {{"Retry-After", "1"}}, {}};
        co_return http::make_problem_response(p);
    }
    http::response res;
    res.body = R"({"status":"ready"})";
    co_return res;
}

awaitable<http::response> metrics(http::route_context& /*context*/) {
    http::response res;
    res.content_type = std::string(obs::k_exposition_content_type);
    res.body = obs::default_registry().expose();
    co_return res;
}

// OpenAPI schemas of the bodies above (written here because they are literals here).
boost::json::value status_schema(std::string_view value) {
    return boost::json::object{
        {"type", "object"},
        {"required", boost::json::array{"status"}},
        {"properties", boost::json::object{{"status", boost::json::object{{"const", value}}}}},
    };
}
boost::json::value health_schema(boost::json::object& /*components*/) {
    return status_schema("ok");
}
boost::json::value ready_schema(boost::json::object& /*components*/) {
    return status_schema("ready");
}

}  // namespace

std::vector<http::route> system_routes(const service_state& state) {
    std::vector<http::route> routes;
    routes.push_back({
        .method = http::method::get,
        .path_template = "/health",
        .access = http::access::public_,
        .handler = health,
        .doc =
            {.summary = "Liveness: the process is up",
             .operation_id = "health",
             .tag = "system",
             .description = "Touches no database.",
             .responses = {{.status = 200, .description = "Alive", .body = &health_schema}}},
    });
    routes.push_back({
        .method = http::method::get,
        .path_template = "/ready",
        .access = http::access::public_,
        // A plain lambda returning the named coroutine: nothing captured outlives the call.
        .handler = [&state](http::route_context& context) { return ready(state, context); },
        .doc =
            {.summary = "Readiness: database reachable, schema current, not shutting down",
             .operation_id = "ready",
             .tag = "system",
             .responses =
                 {{.status = 200, .description = "Ready", .body = &ready_schema},
                  {.status = 503,
                   .description = "Not ready: shutting down or database unavailable",
                   .headers = {"Retry-After"}}}},
    });
    routes.push_back({
        .method = http::method::get,
        .path_template = "/metrics",
        .access = http::access::public_,
        .handler = metrics,
        .doc =
            {.summary = "Prometheus metrics (text format 0.0.4)",
             .operation_id = "metrics",
             .tag = "system",
             .responses = {{.status = 200, .description = "The metrics", .content_type = "text/plain"}}},
    });
    return routes;
}

}  // namespace svc::app
