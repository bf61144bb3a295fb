#pragma once
// X-Request-ID: echo the client's when it is sane, otherwise make a new one.

#include <string>
#include <string_view>

namespace svc::http {

// A client's id is kept when it is 1-128 characters of [A-Za-z0-9._:@/+=-], so it can be
// logged and echoed without escaping and cannot inject headers or log lines.
bool is_sane_request_id(std::string_view id);

// A new random id (128 bits, UUID v4 text form). Fast: a per-thread generator seeded from
// std::random_device; not for secrets.
std::string generate_request_id();

}  // namespace svc::http
