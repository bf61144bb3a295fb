#pragma once
// Internal to the server (server.cpp, session.cpp): what the listener, the sessions and
// shutdown share — the Asio types they use, the HTTP metrics, each loop's acceptor and
// connections, and the server-wide state behind server::shared_state.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
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

// Which listener accepted a connection: the service port, or the admin port (admin routes
// only, its own small connection budget, no per-peer cap).
enum class listener_kind : std::uint8_t { main, admin };

// Open connections per client address, across loops, for max_connections_per_peer.
// Thread-safe: one mutex, taken once when a connection is accepted and once when it ends,
// never per request.
class peer_connections {
public:
    // Counts one more connection from `peer` unless it already holds `cap` (> 0). Returns
    // whether it was counted.
    bool try_add(const boost::asio::ip::address& peer, std::size_t cap);
    // Forgets one connection counted by try_add.
    void remove(const boost::asio::ip::address& peer);

private:
    std::mutex mutex_;
    std::unordered_map<boost::asio::ip::address, std::size_t> counts_;  // guarded by mutex_; no 0
};

// What an accepted connection holds from accept to its end — its place in open_connections,
// in its listener's count, in its peer's, and (once `loop` is set) in its loop's. Given back
// once, by server::shared_state::connection_ended().
struct connection_ticket {
    listener_kind listener = listener_kind::main;
    std::optional<boost::asio::ip::address> counted_peer;  // set when counted in `peers`
    loop_state* loop = nullptr;                            // set when a loop counts it
};

struct server::shared_state : std::enable_shared_from_this<server::shared_state> {
    shared_state(
        const http::router& r, http::authenticator a, server_options o, const http::router* admin_routes
    );

    const http::router& routes;
    const http::authenticator authenticate;
    const server_options options;
    const std::unique_ptr<rate_limiter> limiter;  // null: no limit
    const admission_rules rules;                  // refers to the three members above
    // The admin listener's routes (public ones: nothing is authenticated there); set when
    // options.admin_port is.
    const std::optional<admission_rules> admin_rules;
    std::uint16_t bound_port = 0;                    // written by start() before the loops run
    std::uint16_t bound_admin_port = 0;              // likewise; 0: no admin listener
    std::vector<std::unique_ptr<loop_state>> loops;  // [i] touched only on loop i
    std::atomic<bool> shutdown_requested{false};     // first shutdown() call wins
    std::atomic<bool> draining{false};               // set after on_stopped is stored
    std::atomic<bool> stopped_reported{false};
    std::atomic<std::size_t> open_connections{0};   // both listeners: shutdown waits for 0
    std::atomic<std::size_t> main_connections{0};   // at most options.max_connections
    std::atomic<std::size_t> admin_connections{0};  // at most k_admin_max_connections
    peer_connections peers;                         // main listener, when a per-peer cap is set
    std::optional<acceptor_type> admin_acceptor;    // touched only on loop 0; reset by ~server
    std::function<void()> on_stopped;               // written once, before `draining`
    boost::asio::io_context* loop0 = nullptr;

    std::unique_ptr<boost::asio::steady_timer> grace_timer;  // touched only on loop 0
    // Keep every loop running from start() until the server reports itself stopped: a loop
    // with no connection left must still run the shutdown steps posted to it later.
    std::vector<boost::asio::executor_work_guard<executor>> keep_running;  // released on loop 0

    bool is_draining() const { return draining.load(std::memory_order_acquire); }

    // Counts a connection `listener` just accepted from `peer`: nullopt, and nothing counted,
    // when the listener's connection limit or the peer's is reached. Callable from any loop.
    std::optional<connection_ticket> connection_opened(
        listener_kind listener, const boost::asio::ip::address& peer
    );

    // A connection counted by connection_opened is gone (its session ended, or it was never
    // started). Callable from any loop.
    void connection_ended(const connection_ticket& ticket);

    // The admission rules of the listener that accepted a connection.
    const admission_rules& rules_of(listener_kind listener) const {
        return listener == listener_kind::admin ? *admin_rules : rules;
    }

    // Runs on_stopped on loop 0, once. Callable from any loop.
    void report_stopped();
};

}  // namespace svc::http
