#pragma once
// Decoding of the request-target (RFC 9112 §3.2) into what the router and the handlers read.
// Pure: no I/O.

#include <string>
#include <string_view>

namespace svc::http {

// Splits an origin-form target ("/orders/%7Bid%7D?limit=5") into its percent-decoded path
// ("/orders/{id}") and its raw query ("limit=5", not decoded: the query parser does that per
// parameter). Returns false — and leaves `path` and `query` unspecified — for anything else:
// "*", absolute-form, an empty target, a '%' not followed by two hex digits, or an escape that
// decodes to NUL. `path` and `query` are out-parameters so that a session reuses their
// capacity from one request to the next.
bool split_target(std::string_view target, std::string& path, std::string& query);

}  // namespace svc::http
