#pragma once
// The service's own routes: GET /health (liveness), GET /ready (readiness), GET /metrics.

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "http/router.hpp"

namespace svc::app {

// What GET /ready reports. Lives in serve() for the whole run; shared by every loop.
struct service_state {
    // Set when shutdown begins (SIGTERM/SIGINT): /ready answers 503 from then on.
    std::atomic<bool> draining{false};

    // Optional extra readiness check, e.g. "database reachable, schema current". Runs on the
    // request's event loop; returns nullopt when ready, else a short reason for the 503 body
    // (no internals). Set once during start-up, before the loops run.
    std::function<boost::asio::awaitable<std::optional<std::string>>()> readiness_check;
};

// /health → 200 {"status":"ok"} (touches nothing);
// /ready → 200 {"status":"ready"} or 503 unavailable with Retry-After;
// /metrics → the default registry in the Prometheus text format.
// `state` must outlive the returned routes.
std::vector<http::route> system_routes(const service_state& state);

}  // namespace svc::app
