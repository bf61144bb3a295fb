#pragma once
// A minimal HTTP/1.1 client for one GET, used by `orders-service healthcheck` (a Docker
// HEALTHCHECK needs neither curl nor Python) and by tests.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace svc::http {

struct probe_result {
    unsigned status = 0;
    std::string body;
};

// Connects to host:port, sends `GET target` with `Connection: close` and reads the response,
// all within `timeout`. Returns nullopt on any failure (resolve, connect, timeout, malformed
// response). Blocking; runs its own io_context on the calling thread — not for event loops.
std::optional<probe_result> probe_get(
    const std::string& host, std::uint16_t port, const std::string& target, std::chrono::milliseconds timeout
);

}  // namespace svc::http
