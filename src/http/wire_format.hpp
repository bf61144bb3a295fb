#pragma once
// The bytes of HTTP/1.1 the server writes and skips, apart from how it reads and writes them
// (session.cpp) — the way leveldb keeps log_format apart from log_reader and log_writer.
// Pure functions: no I/O, no state but the per-thread Date cache.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace svc::http {

// The value of the Date header for the current second (RFC 9110 §5.6.7 IMF-fixdate), e.g.
// "Sun, 06 Nov 1994 08:49:37 GMT". Formatted at most once per second per thread; the view
// stays valid on this thread until the next call.
std::string_view http_date();

// The value of a 405's Allow header: the methods of `allowed` in a fixed order (GET, HEAD,
// POST, PUT, PATCH, DELETE, OPTIONS) whatever the route table's order, ", "-separated.
std::string allow_header(const std::vector<method>& allowed);

// Whether a header a handler set may be written: a non-empty name, and no CR, LF or NUL in
// its name or value, which could end the header block or add a header of the client's choice.
bool is_safe_header(const header& h);

// How the response to one request is framed.
struct response_framing {
    unsigned version = 11;   // the request's HTTP version: 10 or 11
    bool keep_alive = true;  // false: `Connection: close`
    bool is_head = false;    // HEAD: the headers of the GET answer, no body
};

// Writes `res` as it goes on the wire into `out` (cleared first; its capacity is reused, so
// a warm buffer costs no allocation): the status line, Date, Content-Type (when there is a
// body), the handler's headers (an unsafe one is dropped and logged), X-Request-ID,
// Content-Length (except for 1xx, 204 and 304), Connection as `framing` needs, the body.
// Serialising by hand instead of through Beast's serializer halves the CPU spent per
// response: one contiguous buffer, one send.
void serialize_response(
    std::string& out, const response& res, std::string_view request_id, const response_framing& framing
);

// The same without the body: everything up to and including the empty line that ends the
// header block. The session sends the body from the response itself after it (one gathered
// write), so a big answer is held once per connection, not twice.
void serialize_response_head(
    std::string& out, const response& res, std::string_view request_id, const response_framing& framing
);

// The length of the empty line (CRLF, or a bare LF) at the start of `received`, 0 when a
// request line starts there; nullopt when `received` is empty or holds a lone CR: more bytes
// decide. RFC 9112 §2.2: a server SHOULD ignore at least one empty line before a request line
// (some clients send a CRLF after a POST body).
std::optional<std::size_t> leading_empty_line(std::string_view received);

}  // namespace svc::http
