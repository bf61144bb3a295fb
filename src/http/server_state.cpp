#include "http/server_state.hpp"

#include <boost/asio/post.hpp>

namespace svc::http {

http_metrics& metrics() {
    auto& reg = obs::default_registry();
    static http_metrics instance{
        reg.add_counter("http_requests_total", "HTTP requests answered.", {"method", "route", "status"}),
        reg.add_histogram(
            "http_request_duration_seconds",
            "Time from the end of the request headers to the end of the response.",
            {"method", "route"},
            obs::latency_buckets()
        ),
        reg.add_gauge("http_requests_in_flight", "HTTP requests being processed.").get(),
        reg.add_gauge("http_open_connections", "Open client connections.").get(),
        reg.add_counter(
               "http_connections_rejected_total", "Connections closed at once: max_connections reached."
        )
            .get(),
        reg.add_counter(
               "http_slow_clients_dropped_total",
               "Connections dropped because headers or body arrived too slowly."
        )
            .get(),
    };
    return instance;
}

bool peer_connections::try_add(const boost::asio::ip::address& peer, std::size_t cap) {
    const std::lock_guard lock(mutex_);
    auto& count = counts_[peer];  // a new entry starts at 0, under any cap > 0
    if (count >= cap) return false;
    ++count;
    return true;
}

void peer_connections::remove(const boost::asio::ip::address& peer) {
    const std::lock_guard lock(mutex_);
    const auto found = counts_.find(peer);
    if (found != counts_.end() && --found->second == 0) counts_.erase(found);
}

server::shared_state::shared_state(
    const http::router& r, http::authenticator a, server_options o, const http::router* admin_routes
)
    : routes(r),
      authenticate(std::move(a)),
      options(std::move(o)),
      limiter(
          options.rate_limit.per_second > 0 ? std::make_unique<rate_limiter>(options.rate_limit) : nullptr
      ),
      rules{routes, authenticate, limiter.get()},
      admin_rules(
          admin_routes != nullptr
              ? std::optional<admission_rules>(admission_rules{*admin_routes, authenticate})
              : std::nullopt
      ) {}

std::optional<connection_ticket> server::shared_state::connection_opened(
    listener_kind listener, const boost::asio::ip::address& peer
) {
    const bool admin = listener == listener_kind::admin;
    auto& counted = admin ? admin_connections : main_connections;
    const std::size_t limit = admin ? k_admin_max_connections : options.max_connections;
    if (counted.fetch_add(1, std::memory_order_acq_rel) + 1 > limit) {
        counted.fetch_sub(1, std::memory_order_acq_rel);
        return std::nullopt;
    }
    connection_ticket ticket{listener, std::nullopt, nullptr};
    if (!admin && options.max_connections_per_peer > 0) {
        if (!peers.try_add(peer, options.max_connections_per_peer)) {
            counted.fetch_sub(1, std::memory_order_acq_rel);
            return std::nullopt;
        }
        ticket.counted_peer = peer;
    }
    open_connections.fetch_add(1, std::memory_order_acq_rel);
    return ticket;
}

void server::shared_state::connection_ended(const connection_ticket& ticket) {
    if (ticket.loop != nullptr) ticket.loop->connection_count.fetch_sub(1, std::memory_order_relaxed);
    if (ticket.counted_peer) peers.remove(*ticket.counted_peer);
    auto& counted = ticket.listener == listener_kind::admin ? admin_connections : main_connections;
    counted.fetch_sub(1, std::memory_order_acq_rel);
    const auto left = open_connections.fetch_sub(1, std::memory_order_acq_rel) - 1;
    if (left == 0 && is_draining()) {
        report_stopped();
    }
}

void server::shared_state::report_stopped() {
    if (stopped_reported.exchange(true, std::memory_order_acq_rel)) {
        return;
    }
    boost::asio::post(*loop0, [self = shared_from_this()] {
        if (self->grace_timer) {
            self->grace_timer->cancel();
        }
        if (self->on_stopped) {
            self->on_stopped();
        }
        for (auto& guard : self->keep_running) {
            guard.reset();
        }
    });
}

}  // namespace svc::http
