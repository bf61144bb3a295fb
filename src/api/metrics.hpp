#pragma once
// Domain metrics: orders_created_total and order_status_transitions_total{from,to}, fed by
// the service's observer hook. Label values come only from the fixed status names.

#include "observability/metrics.hpp"
#include "orders/service.hpp"

namespace svc::api {

class domain_metrics final : public orders::service_observer {
public:
    // Registers (or finds) both families in `registry`, which must outlive this object.
    explicit domain_metrics(obs::registry& registry);

    void order_created(const orders::order& created) override;
    void status_changed(orders::order_status from, orders::order_status to) override;

private:
    obs::counter& created_;
    obs::counter_family& transitions_;
};

}  // namespace svc::api
