#pragma once
// Admission: whether a request whose headers were read may reach its handler — the
// "middleware" between the session and the handler. One pure function of the request and the
// server's rules; no I/O, no Beast, so every refusal is unit-tested without a socket.
//
// In this order, the first refusal wins:
//   route        no route has the path → 404; the path exists for other methods → 405 + Allow
//   authenticate a `user` or `admin` route without a valid bearer token → 401 + WWW-Authenticate
//   role         an `admin` route for a token without the admin role → 403
//   rate limit   the token's `sub` over its rate (when a limiter is set) → 429 + Retry-After
// Public routes are neither authenticated nor limited.
//
// Runs after the session has checked the bytes (framing, target, declared body size) and
// before the body is read, so a refused request costs no body read and no handler.
//
// Extending it: what admission needs to know about a request goes into admission_request and
// what the handler gets out of it into route_context — a request deadline or a W3C
// traceparent is one field on each side, checked here in its place in the order above.

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>
#include <variant>

#include "auth/principal.hpp"
#include "http/message.hpp"
#include "http/problem.hpp"
#include "http/rate_limit.hpp"
#include "http/router.hpp"

namespace svc::http {

// Verifies the Authorization header (absent: nullopt) of a `user` or `admin` route. Called on
// the connection's event loop before the body is read; must not block. The auth module
// provides the real one.
using authenticator = std::function<auth::result(std::optional<std::string_view> authorization_header)>;

// What the server admits requests by; shared by every connection, unchanged while it serves.
struct admission_rules {
    const http::router& routes;
    const http::authenticator& authenticate;
    http::rate_limiter* limiter = nullptr;  // null: no rate limit
};

// One request, as admission sees it.
struct admission_request {
    const http::request& request;         // method and decoded path set; headers as received
    std::string_view request_id;          // handed on in route_context
    rate_limiter::clock::time_point now;  // the rate limiter's clock, read once by the caller
};

struct admission {
    // The matched route, also when it refused the request (the metrics `route` label);
    // null for a 404 or 405.
    const http::route* matched = nullptr;
    // Admitted: what the handler receives (it refers to admission_request::request). Refused:
    // the answer to give instead, with its headers (Allow, WWW-Authenticate, Retry-After).
    std::variant<route_context, problem> verdict;

    bool admitted() const { return std::holds_alternative<route_context>(verdict); }
};

// Decides admission for `input` by `rules`. Calls rules.authenticate once for a non-public
// route, and takes one rate-limit token for an authenticated request of the right role.
// Throws only what the authenticator throws, or std::bad_alloc.
admission admit(const admission_rules& rules, const admission_request& input);

}  // namespace svc::http
