#pragma once
// The database's metrics in the service's registry (the contract's /metrics):
//   db_pool_connections{state="idle|busy"}  gauges — PostgreSQL pool connections, or SQLite
//                                           worker connections (writer + readers)
//   db_pool_wait_seconds                    histogram — pool checkout wait (SQLite: queue wait
//                                           before a worker picks the job up)
//   db_query_duration_seconds               histogram — one round trip (SQLite: one job)

#include "db/database.hpp"
#include "observability/metrics.hpp"

namespace svc::db {

// Registers the families (idempotent) and hooks them to `db`. Call once at start-up, before
// the loops run; `db` and `registry` must outlive every database call.
void register_metrics(obs::registry& registry, database& db);

}  // namespace svc::db
