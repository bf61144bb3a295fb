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

server::shared_state::shared_state(const http::router& r, http::authenticator a, server_options o)
    : routes(r),
      authenticate(std::move(a)),
      options(std::move(o)),
      limiter(
          options.rate_limit.per_second > 0 ? std::make_unique<rate_limiter>(options.rate_limit) : nullptr
      ),
      rules{routes, authenticate, limiter.get()} {}

void server::shared_state::connection_ended(loop_state& loop) {
    loop.connection_count.fetch_sub(1, std::memory_order_relaxed);
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
