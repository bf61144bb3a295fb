#pragma once
// Internal to the server (server.cpp, session.cpp): what the listener, the sessions and
// shutdown share — the Asio types they use, the HTTP metrics, each loop's acceptor and
// connections, and the server-wide state behind server::shared_state.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_set>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/admission.hpp"
#include "http/server.hpp"
#include "observability/metrics.hpp"

namespace svc::http {

using executor = boost::asio::io_context::executor_type;
using tcp = boost::asio::ip::tcp;
// Sockets and acceptors bound to the concrete io_context executor: no type-erased executor
// on the hot path.
using socket_type = boost::asio::basic_stream_socket<tcp, executor>;
using acceptor_type = boost::asio::basic_socket_acceptor<tcp, executor>;

class session;

struct http_metrics {
    obs::counter_family& requests;
    obs::histogram_family& duration;
    obs::gauge& in_flight;
    obs::gauge& connections;
    obs::counter& rejected_connections;
    obs::counter& dropped_slow_clients;
};

// The server's metrics, registered in the default registry on the first call. Thread-safe.
http_metrics& metrics();

// Per event loop: its acceptor and its connections. Touched only on that loop's thread,
// except connection_count.
struct loop_state {
    explicit loop_state(boost::asio::io_context& loop_context) : context(loop_context) {
        acceptor.emplace(loop_context.get_executor());
    }
    boost::asio::io_context& context;
    std::optional<acceptor_type> acceptor;  // reset by ~server, while the io_context exists
    std::unordered_set<session*> sessions;  // each session adds and removes itself
    // Connections this loop serves or is being handed (any thread reads it; see accept_loop).
    std::atomic<std::size_t> connection_count{0};
};

struct server::shared_state : std::enable_shared_from_this<server::shared_state> {
    shared_state(const http::router& r, http::authenticator a, server_options o);

    const http::router& routes;
    const http::authenticator authenticate;
    const server_options options;
    const std::unique_ptr<rate_limiter> limiter;     // null: no limit
    const admission_rules rules;                     // refers to the three members above
    std::uint16_t bound_port = 0;                    // written by start() before the loops run
    std::vector<std::unique_ptr<loop_state>> loops;  // [i] touched only on loop i
    std::atomic<bool> shutdown_requested{false};     // first shutdown() call wins
    std::atomic<bool> draining{false};               // set after on_stopped is stored
    std::atomic<bool> stopped_reported{false};
    std::atomic<std::size_t> open_connections{0};
    std::function<void()> on_stopped;  // written once, before `draining`
    boost::asio::io_context* loop0 = nullptr;

    std::unique_ptr<boost::asio::steady_timer> grace_timer;  // touched only on loop 0
    // Keep every loop running from start() until the server reports itself stopped: a loop
    // with no connection left must still run the shutdown steps posted to it later.
    std::vector<boost::asio::executor_work_guard<executor>> keep_running;  // released on loop 0

    bool is_draining() const { return draining.load(std::memory_order_acquire); }

    // A connection counted at accept is gone (its session ended, or it was never started).
    // Callable from any loop.
    void connection_ended(loop_state& loop);

    // Runs on_stopped on loop 0, once. Callable from any loop.
    void report_stopped();
};

}  // namespace svc::http
