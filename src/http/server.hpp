#pragma once
// The HTTP/1.1 server: one SO_REUSEPORT acceptor per event loop, one coroutine per
// connection, keep-alive and pipelining, the contract's limits, authentication before the
// body is read, and graceful shutdown. Handlers and their callers see no Beast type: Beast's
// parser is used by session.cpp only, the bytes written are wire_format's.
//
// Per request, in this order: read the headers (431 over max_header_bytes, connection dropped
// when they do not arrive within header_timeout) → 400 for a malformed request line or target,
// a missing or repeated Host, a Transfer-Encoding that does not end in chunked → 413 when Content-Length is
// over max_body_bytes → admission (admission.hpp: route 404 / 405 + Allow, authenticate 401, role 403, rate
// limit 429) → read the body (413 when a chunked body grows over the limit, 400 when its framing is
// malformed) → run the handler → write the response with X-Request-ID. An answer given before the body was
// read keeps the connection when the whole body (within max_body_bytes) came with the header; otherwise it
// closes the connection after a short drain of the unread body. Every request is counted in
// http_requests_total{method,route,status}, timed in http_request_duration_seconds{method,route}, and logged
// by obs::log_access.
//
// Per connection: closed at once when the service port holds max_connections, or its client
// address max_connections_per_peer; dropped when its first request's headers have not arrived
// within first_request_timeout of the accept (later requests: idle_timeout, then
// header_timeout). The optional admin listener has its own budget and serves admin routes only.
//
// The parts, split by concept: server.cpp (listener, start, shutdown), session.cpp (one
// connection), admission.cpp (route, authenticate, role, rate limit), target.cpp (the
// request-target), wire_format.cpp (response bytes), server_state.hpp (what they share).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/admission.hpp"
#include "http/rate_limit.hpp"
#include "http/router.hpp"
#include "runtime/event_loops.hpp"

namespace svc::http {

// Connections the admin listener (server_options::admin_port) holds at most: probes and
// scrapes need a few; over it they are closed at once.
inline constexpr std::size_t k_admin_max_connections = 64;

struct server_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;                               // 0: an ephemeral port, see server::port()
    std::size_t max_header_bytes = std::size_t{16} * 1024;   // request line + headers; over it: 431
    std::size_t max_body_bytes = std::size_t{1024} * 1024;   // over it: 413
    std::chrono::milliseconds header_timeout{10'000};        // first byte → end of headers; then dropped
    std::chrono::milliseconds body_timeout{30'000};          // end of headers → end of body; then dropped
    std::chrono::milliseconds idle_timeout{60'000};          // keep-alive wait for the next request
    std::chrono::milliseconds write_timeout{30'000};         // writing one response
    std::size_t max_connections = 10'000;                    // over it new connections are closed at once
    std::size_t max_connections_per_peer = 1'000;            // from one client address; 0: no cap
    std::chrono::milliseconds first_request_timeout{5'000};  // accept → end of the first headers
    // A second listener (same host) answering only the admin routes given to the server, with
    // its own budget of k_admin_max_connections, so probes and scrapes get through a flood
    // of the service port. nullopt: none; 0: an ephemeral port, see server::admin_port().
    std::optional<std::uint16_t> admin_port;
    std::chrono::milliseconds shutdown_grace{10'000};  // how long requests in flight may finish
    rate_limit_options rate_limit;                     // per client (`sub`); off by default
};

// Lifetime: construct, start(), then run the event loops; the server, the router and the
// loops must outlive the loops' run(), and the server must be destroyed while the loops are
// not running (after run() returned) but before the loops themselves. Not copyable.
class server {
public:
    // `routes` is shared by every loop and must stay alive and unchanged while the server runs;
    // so must `admin_routes`, the routes of the admin listener, required when
    // options.admin_port is set (std::invalid_argument otherwise) and public routes only.
    server(
        runtime::event_loops& loops,
        const http::router& routes,
        authenticator authenticate,
        server_options options,
        const http::router* admin_routes = nullptr
    );
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    server(server&&) = delete;
    server& operator=(server&&) = delete;

    // Binds and listens on options.host:options.port with one acceptor per loop
    // (SO_REUSEPORT), and on options.admin_port when set (one acceptor, loop 0), and spawns the
    // accept loops. Call once, before the loops run.
    // Throws std::system_error when the address cannot be bound.
    void start();

    // The bound port (the ephemeral one when options.port was 0). Valid after start().
    std::uint16_t port() const;

    // The admin listener's bound port; 0 when there is none. Valid after start().
    std::uint16_t admin_port() const;

    // Graceful shutdown, callable from any thread, more than once (later calls do nothing):
    // draining() turns true at once, the listeners close, idle connections and connections
    // still receiving headers close at once, requests whose headers were received finish and
    // are answered with `Connection: close`. When the last connection is gone, or
    // shutdown_grace has passed (then the rest are cut off), `on_stopped` runs once, on
    // loop 0. It typically closes the database and stops the event loops.
    void shutdown(std::function<void()> on_stopped);

    // True once shutdown() was called. Thread-safe; readiness (GET /ready) reports it.
    bool draining() const;

    // Open connections across all loops. Thread-safe.
    std::size_t open_connections() const;

    // Connections each loop serves (or is being handed), by loop index. Thread-safe. New
    // connections go to the loop with the fewest (see least_loaded_loop in server.cpp).
    std::vector<std::size_t> connections_per_loop() const;

    // Everything the connections share. Each connection coroutine holds a reference, so the
    // state outlives the server object when coroutines are destroyed with the event loops.
    struct shared_state;

private:
    runtime::event_loops& loops_;
    std::shared_ptr<shared_state> state_;
};

}  // namespace svc::http
