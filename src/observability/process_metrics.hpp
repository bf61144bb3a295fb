#pragma once
// The standard process_* metrics, read from /proc/self at each exposition:
// process_resident_memory_bytes, process_virtual_memory_bytes, process_cpu_seconds_total,
// process_open_fds, process_max_fds, process_start_time_seconds.

#include "observability/metrics.hpp"

namespace svc::obs {

// Registers the process metrics as callbacks on `reg`. Idempotent.
void register_process_metrics(registry& reg);

}  // namespace svc::obs
