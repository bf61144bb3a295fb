#pragma once
// The contract's error body, {"detail": "...", "type": "..."}, and the exception that
// carries it out of a handler. Every error response of the service is built by
// make_problem_response() — the one place the error shape is written.

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "http/message.hpp"

namespace svc::http {

// One entry of a 422 body's "errors" array.
struct field_error {
    std::vector<std::string> loc;  // e.g. {"body", "items", "0", "quantity"}; numeric parts
                                   // are written as JSON numbers
    std::string msg;
    std::string type;  // e.g. "missing", "int_type", "less_than_equal"
};

struct problem {
    unsigned status = 500;
    std::string type = "internal_error";  // the contract's `type` for this status
    std::string detail;                   // one human sentence; never internals
    std::vector<header> headers;          // e.g. Allow, WWW-Authenticate, Retry-After
    std::vector<field_error> errors;      // only for 422 validation_error
};

// The contract's `type` for a status code ("not_found" for 404, ...).
std::string_view default_problem_type(unsigned status);

response make_problem_response(const problem& p);

// Thrown by handlers (and middleware) to answer with an error body.
class problem_error : public std::runtime_error {
public:
    explicit problem_error(problem p) : std::runtime_error(p.detail), problem_(std::move(p)) {}
    problem_error(unsigned status, std::string detail)
        : problem_error(problem{status, std::string(default_problem_type(status)), std::move(detail), {}, {}}
          ) {}
    const http::problem& get() const { return problem_; }

private:
    http::problem problem_;
};

}  // namespace svc::http
