#pragma once
// Domain errors and validation issues → the contract's error responses. to_problem() is the
// ONE place a domain error gets its status code, `type` and headers.

#include <chrono>
#include <string>
#include <vector>

#include "http/problem.hpp"
#include "json/decode.hpp"
#include "orders/errors.hpp"

namespace svc::api {

// not_found → 404, business_error → 400 business_error, forbidden → 403, conflict → 409,
// precondition_failed → 412, idempotency_key_reused → 422 (loc header/Idempotency-Key),
// unavailable → 503 with Retry-After, its cause logged by log_unavailable_cause; any other
// orders::error → 500 (a bug).
http::problem to_problem(const orders::error& e);

// Logs why the database made a request fail with 503, at warning level, rate-limited so that
// an outage answered thousands of times a second costs a line every few seconds: the first
// cause at once, then at most one line per `k_unavailable_log_interval` naming the latest
// cause and how many 503s it stands for. Thread-safe (every event loop calls it).
inline constexpr std::chrono::seconds k_unavailable_log_interval{10};
void log_unavailable_cause(const std::string& cause, std::chrono::steady_clock::time_point now);

// A 422 validation_error listing the issues found; when the decoder stopped at its limit
// (`truncated`), `detail` says that only the first json::k_max_issues are listed.
http::problem validation_problem(const json::invalid& found);

// A 400 bad_request with `detail`.
http::problem bad_request(std::string detail);

}  // namespace svc::api
