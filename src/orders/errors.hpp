#pragma once
// Typed domain errors. The service throws these; src/api maps each one to the contract's
// status code and error body in exactly one function (api::to_problem). `what()` is the
// client-facing sentence ("Cannot modify shipped orders"), so it must never carry
// internals (SQL, hostnames, stack traces).
//
// Who throws what:
// - stores (src/db/orders/) throw only `unavailable` (database unreachable, pool exhausted
//   past its wait timeout, statement timeout; for a write: certainly not committed) and
//   `outcome_unknown` (a write whose commit could not be settled) — every other store
//   outcome is a typed result (see store.hpp). Any other exception escaping a store is a
//   bug → 500.
// - the service (src/orders/service.hpp) throws all of them.

#include <stdexcept>
#include <string>
#include <utility>

namespace svc::orders {

// Base of every domain error; catch this to catch them all.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// No such resource — or one the caller may not see (someone else's order): the message
// must then be the very same as for a missing one. → 404 not_found
class not_found : public error {
public:
    using error::error;
};

// A business rule refuses the request: forbidden transition, order not modifiable,
// insufficient stock, unknown product. → 400 business_error
class business_error : public error {
public:
    using error::error;
};

// Authenticated, but the role does not allow it (e.g. a user acting for another user).
// → 403 forbidden
class forbidden : public error {
public:
    using error::error;
};

// The resource exists already (duplicate product id), or an idempotent request with the
// same key is still running. → 409 conflict
class conflict : public error {
public:
    using error::error;
};

// The client's expected version (If-Match) is not the current one. → 412
class precondition_failed : public error {
public:
    using error::error;
};

// An Idempotency-Key reused with a different request body. → 422 validation_error with
// loc ["header", "Idempotency-Key"]
class idempotency_key_reused : public error {
public:
    using error::error;
};

// The database cannot serve the request now; the client should retry later.
// → 503 unavailable with Retry-After: retry_after_seconds. `cause` is for the operator's log
// only, never for the client: what the database layer reported ("pool_timeout: ...", "busy:
// database is locked"), free of secrets like every db::error message.
class unavailable : public error {
public:
    explicit unavailable(const std::string& message, unsigned retry_after_seconds = 1, std::string cause = {})
        : error(message), retry_after_seconds_(retry_after_seconds), cause_(std::move(cause)) {}
    unsigned retry_after_seconds() const { return retry_after_seconds_; }
    const std::string& cause() const { return cause_; }

private:
    unsigned retry_after_seconds_;
    std::string cause_;
};

// A write was sent, the connection to the database was lost while it committed, and whether
// it committed could not be settled in time: it may have been done. A client retries only
// with the same Idempotency-Key, or reads the resource first.
// → 503 outcome_unknown with Retry-After: retry_after_seconds
class outcome_unknown : public error {
public:
    explicit outcome_unknown(const std::string& message, unsigned retry_after_seconds = 1)
        : error(message), retry_after_seconds_(retry_after_seconds) {}
    unsigned retry_after_seconds() const { return retry_after_seconds_; }

private:
    unsigned retry_after_seconds_;
};

}  // namespace svc::orders
