#pragma once
// Domain errors and validation issues → the contract's error responses. to_problem() is the
// ONE place a domain error gets its status code, `type` and headers.

#include <vector>

#include "http/problem.hpp"
#include "json/decode.hpp"
#include "orders/errors.hpp"

namespace svc::api {

// not_found → 404, business_error → 400 business_error, forbidden → 403, conflict → 409,
// precondition_failed → 412, idempotency_key_reused → 422 (loc header/Idempotency-Key),
// unavailable → 503 with Retry-After; any other orders::error → 500 (a bug).
http::problem to_problem(const orders::error& e);

// A 422 validation_error listing the issues found; when the decoder stopped at its limit
// (`truncated`), `detail` says that only the first json::k_max_issues are listed.
http::problem validation_problem(const json::invalid& found);

// A 400 bad_request with `detail`.
http::problem bad_request(std::string detail);

}  // namespace svc::api
