#include "api/metrics.hpp"

namespace svc::api {

domain_metrics::domain_metrics(obs::registry& registry)
    : created_(registry.add_counter("orders_created_total", "Orders created.").get()),
      transitions_(registry.add_counter(
          "order_status_transitions_total",
          "Order status transitions, by previous and new status.",
          {"from", "to"}
      )) {}

void domain_metrics::order_created(const orders::order& /*created*/) {
    created_.inc();
}

void domain_metrics::status_changed(orders::order_status from, orders::order_status to) {
    transitions_.with({orders::to_string(from), orders::to_string(to)}).inc();
}

}  // namespace svc::api
