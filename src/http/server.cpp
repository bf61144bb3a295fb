// The listener and the server's life: one SO_REUSEPORT acceptor per loop, connections spread
// over the loops, start-up and graceful shutdown. Each connection is a session (session.hpp).
#include "http/server.hpp"

#include <stdexcept>
#include <system_error>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "http/server_state.hpp"
#include "http/session.hpp"
#include <sys/socket.h>
#include <unistd.h>

namespace svc::http {

namespace asio = boost::asio;

namespace {

using shared_state = server::shared_state;

// Expected I/O outcomes (EMFILE, a closed acceptor) come back as error codes, not exceptions.
constexpr auto k_as_tuple = asio::as_tuple(asio::use_awaitable);

// The loop serving the fewest connections, `here` when it is among them. SO_REUSEPORT spreads
// connections over the loops by a hash of their addresses, so a few long-lived ones (a load
// balancer's, a benchmark's) land unevenly: wrk's 64 landed 35/29 on two loops, and the fuller
// loop's requests queued longer for its share of the pool and write slots. Counting
// connections, like Envoy's exact_balance, evens that out for clients that load each
// connection alike; the counts are read unsynchronised — an approximate balance is enough.
loop_state& least_loaded_loop(shared_state& state, loop_state& here) {
    loop_state* best = &here;
    std::size_t fewest = here.connection_count.load(std::memory_order_relaxed);
    for (auto& candidate : state.loops) {
        const std::size_t count = candidate->connection_count.load(std::memory_order_relaxed);
        if (count < fewest) {
            best = candidate.get();
            fewest = count;
        }
    }
    return *best;
}

// Moves an accepted connection to another loop: its descriptor leaves this loop's reactor and
// joins the target's (registering with another io_context's reactor is thread-safe; Asio's
// io_context-pool server example accepts onto other contexts the same way), and its session
// starts there. A connection arriving there once shutdown began is closed, as the acceptor
// would have done.
void hand_over(std::shared_ptr<shared_state> state, connection_ticket ticket, socket_type socket) {
    loop_state& target = *ticket.loop;
    socket_type moved(target.context.get_executor());
    boost::system::error_code ec;
    const tcp protocol = socket.local_endpoint(ec).protocol();
    if (!ec) {
        const auto fd = socket.release(ec);
        if (!ec) {
            moved.assign(protocol, fd, ec);
            if (ec) ::close(fd);
        }
    }
    if (ec) {
        spdlog::warn("handing a connection to another loop failed: {}", ec.message());
        boost::system::error_code ignored;
        socket.close(ignored);
        state->connection_ended(ticket);
        return;
    }
    asio::post(
        target.context,
        [state = std::move(state), ticket = std::move(ticket), socket = std::move(moved)]() mutable {
            if (state->is_draining()) {
                boost::system::error_code ignored;
                socket.close(ignored);
                state->connection_ended(ticket);
                return;
            }
            asio::io_context& context = ticket.loop->context;
            asio::co_spawn(context, run_session(state, std::move(ticket), std::move(socket)), asio::detached);
        }
    );
}

// Accepts on `acceptor` (of `loop`) until it closes. A connection over its listener's limit or
// its peer's is closed at once; one of the main listener goes to the least loaded loop, one of
// the admin listener stays on `loop`.
asio::awaitable<void> accept_loop(
    std::shared_ptr<shared_state> state, loop_state& loop, acceptor_type& acceptor, listener_kind listener
) {
    auto& m = metrics();
    asio::steady_timer backoff(loop.context);
    while (acceptor.is_open()) {
        auto [ec, socket] = co_await acceptor.async_accept(k_as_tuple);
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
            break;
        }
        if (ec) {
            // Typically EMFILE: wait a little instead of spinning on the same error.
            spdlog::warn("accept failed: {}", ec.message());
            backoff.expires_after(std::chrono::milliseconds(50));
            co_await backoff.async_wait(k_as_tuple);
            continue;
        }
        if (state->is_draining()) {
            break;
        }
        boost::system::error_code ignored;
        const auto peer = socket.remote_endpoint(ignored).address();
        auto ticket = state->connection_opened(listener, peer);
        if (!ticket) {
            m.rejected_connections.inc();
            socket.close(ignored);
            continue;
        }
        socket.set_option(tcp::no_delay(true), ignored);
        loop_state& target = listener == listener_kind::admin ? loop : least_loaded_loop(*state, loop);
        target.connection_count.fetch_add(1, std::memory_order_relaxed);
        ticket->loop = &target;
        if (&target == &loop) {
            asio::co_spawn(
                loop.context, run_session(state, std::move(*ticket), std::move(socket)), asio::detached
            );
        } else {
            hand_over(state, std::move(*ticket), std::move(socket));
        }
    }
}

// Opens, binds and listens on `endpoint`; `reuse_port` to share the port with the other loops.
void listen_on(acceptor_type& acceptor, const tcp::endpoint& endpoint, bool reuse_port) {
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    if (reuse_port) {
        const int on = 1;
        if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
            throw std::system_error(errno, std::generic_category(), "setsockopt(SO_REUSEPORT)");
        }
    }
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
}

}  // namespace

server::server(
    runtime::event_loops& loops,
    const http::router& routes,
    authenticator authenticate,
    server_options options,
    const http::router* admin_routes
)
    : loops_(loops),
      state_(std::make_shared<shared_state>(routes, std::move(authenticate), std::move(options), admin_routes)
      ) {
    if (state_->options.admin_port && admin_routes == nullptr) {
        throw std::invalid_argument("server: an admin port needs admin routes");
    }
    metrics();  // register the HTTP metrics before the first scrape
    state_->loop0 = &loops.context(0);
    for (std::size_t i = 0; i < loops.size(); ++i) {
        state_->loops.push_back(std::make_unique<loop_state>(loops.context(i)));
    }
}

server::~server() {
    // The loops are not running. Objects bound to an io_context must go now, while every
    // context still exists: coroutine frames left on the loops hold the shared state and are
    // destroyed only with their own context, possibly after another loop's context is gone.
    state_->stopped_reported.store(true, std::memory_order_release);  // no more posts to loop 0
    state_->grace_timer.reset();
    for (auto& guard : state_->keep_running) {
        guard.reset();
    }
    state_->admin_acceptor.reset();
    for (auto& loop : state_->loops) {
        loop->acceptor.reset();
    }
}

namespace {

// SO_REUSEPORT lets any process of the same user bind the port too: a second instance started
// by mistake would silently take a share of the connections (and, on its own data directory,
// answer from another database). A plain bind first proves that nobody listens there; with
// SO_REUSEADDR, so that connections of a previous run still in TIME_WAIT do not count. Throws
// the bind's error ("Address already in use"), which start-up reports as exit 1.
void ensure_no_listener_on(const tcp::endpoint& endpoint, asio::io_context& context) {
    tcp::acceptor probe(context);
    probe.open(endpoint.protocol());
    probe.set_option(asio::socket_base::reuse_address(true));
    probe.bind(endpoint);
}

}  // namespace

std::uint16_t server::port() const {
    return state_->bound_port;
}

std::uint16_t server::admin_port() const {
    return state_->bound_admin_port;
}

bool server::draining() const {
    return state_->draining.load(std::memory_order_acquire);
}

std::size_t server::open_connections() const {
    return state_->open_connections.load(std::memory_order_relaxed);
}

std::vector<std::size_t> server::connections_per_loop() const {
    std::vector<std::size_t> counts;
    counts.reserve(state_->loops.size());
    for (const auto& loop : state_->loops) {
        counts.push_back(loop->connection_count.load(std::memory_order_relaxed));
    }
    return counts;
}

void server::start() {
    const auto address = asio::ip::make_address(state_->options.host);
    std::uint16_t port = state_->options.port;
    if (port != 0) {
        ensure_no_listener_on(tcp::endpoint(address, port), state_->loops.front()->context);
    }
    if (const auto admin_port = state_->options.admin_port) {
        const tcp::endpoint admin_endpoint(address, *admin_port);
        ensure_no_listener_on(admin_endpoint, state_->loops.front()->context);
        state_->admin_acceptor.emplace(state_->loop0->get_executor());
        listen_on(*state_->admin_acceptor, admin_endpoint, false);
        state_->bound_admin_port = state_->admin_acceptor->local_endpoint().port();
    }
    for (auto& loop : state_->loops) {
        // One acceptor per loop on the same port: the kernel spreads new connections over them.
        listen_on(*loop->acceptor, tcp::endpoint(address, port), true);
        // With port 0 the first bind picks the port; the other loops join it.
        port = loop->acceptor->local_endpoint().port();
    }
    state_->bound_port = port;
    for (auto& loop : state_->loops) {
        state_->keep_running.push_back(asio::make_work_guard(loop->context));
    }
    for (auto& loop : state_->loops) {
        asio::co_spawn(
            loop->context, accept_loop(state_, *loop, *loop->acceptor, listener_kind::main), asio::detached
        );
    }
    if (state_->admin_acceptor) {
        auto& loop0 = *state_->loops.front();
        asio::co_spawn(
            loop0.context,
            accept_loop(state_, loop0, *state_->admin_acceptor, listener_kind::admin),
            asio::detached
        );
    }
}

void server::shutdown(std::function<void()> on_stopped) {
    if (state_->shutdown_requested.exchange(true, std::memory_order_acq_rel)) {
        return;
    }
    state_->on_stopped = std::move(on_stopped);
    state_->draining.store(true, std::memory_order_release);

    for (auto& loop : state_->loops) {
        asio::post(loop->context, [state = state_, loop = loop.get()] {
            boost::system::error_code ignored;
            loop->acceptor->close(ignored);
            if (state->admin_acceptor && &loop->context == state->loop0)
                state->admin_acceptor->close(ignored);
            // on_drain() may end a session, which erases itself from the set: iterate a copy.
            const std::vector<session*> sessions(loop->sessions.begin(), loop->sessions.end());
            for (auto* s : sessions) {
                if (loop->sessions.contains(s)) {
                    s->on_drain();
                }
            }
        });
    }
    // The grace timer lives on loop 0 and is touched only there.
    asio::post(*state_->loop0, [state = state_] {
        state->grace_timer =
            std::make_unique<asio::steady_timer>(*state->loop0, state->options.shutdown_grace);
        state->grace_timer->async_wait([state](const boost::system::error_code& ec) {
            if (ec || state->stopped_reported.load(std::memory_order_acquire)) {
                return;
            }
            if (const auto left = state->open_connections.load(std::memory_order_acquire); left != 0) {
                spdlog::warn("shutdown grace period over; cutting off {} connection(s)", left);
            }
            for (auto& loop : state->loops) {
                asio::post(loop->context, [loop = loop.get()] {
                    const std::vector<session*> sessions(loop->sessions.begin(), loop->sessions.end());
                    for (auto* s : sessions) {
                        if (loop->sessions.contains(s)) {
                            s->cut_off();
                        }
                    }
                });
            }
            state->report_stopped();
        });
        if (state->open_connections.load(std::memory_order_acquire) == 0) {
            state->report_stopped();
        }
    });
}

}  // namespace svc::http
