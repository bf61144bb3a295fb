#pragma once
// Decoding of the request-target (RFC 9112 §3.2) into what the router and the handlers read.
// Pure: no I/O.

#include <string>
#include <string_view>

namespace svc::http {

// Splits a request-target into its percent-decoded path and its raw query (not decoded: the
// query parser does that per parameter):
//   origin-form    "/orders/%7Bid%7D?limit=5" → "/orders/{id}", "limit=5"
//   absolute-form  "http://host:8000/orders?limit=5" → "/orders", "limit=5" (RFC 9112 §3.2.2:
//                  a server must accept it; scheme http or https, any case; the authority is
//                  ignored, as the Host header is; an empty path is "/")
// Returns false — and leaves `path` and `query` unspecified — for anything else: "*",
// authority-form, an empty target or authority, another scheme, a fragment in an absolute
// target, a '%' not followed by two hex digits, or an escape that decodes to NUL. `path` and
// `query` are out-parameters so that a session reuses their capacity from one request to the
// next.
bool split_target(std::string_view target, std::string& path, std::string& query);

}  // namespace svc::http
