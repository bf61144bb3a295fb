#pragma once
// How many CPUs this process may really use: the CPUs it may be scheduled on (affinity,
// e.g. `taskset`, a cpuset) capped by its cgroup's CPU quota (a container's CPU limit,
// Kubernetes' `resources.limits.cpu`). std::thread::hardware_concurrency() reports the
// host's CPUs, so a pod limited to 1 CPU on a 16-core node would run 16 event loops — and
// split the database pool 16 ways (ceil per loop), opening more connections than configured.
//
// Quota sources (the first that applies): cgroup v2 `cpu.max` ("max 100000" = none,
// "150000 100000" = 1.5 CPUs), cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us` (-1 = none),
// found through /proc/self/mountinfo and /proc/self/cgroup. A quota is rounded up (1.5 → 2).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace svc::runtime {

// min(affinity CPUs, ceil(cgroup quota)), at least 1. Reads /proc and /sys once per call.
std::size_t available_cpus();

// The pieces, pure, for tests.
// cgroup v2 cpu.max contents → CPUs, or nullopt for "max" (no quota) or anything malformed.
std::optional<double> quota_from_cpu_max(std::string_view cpu_max);
// cgroup v1 cpu.cfs_quota_us and cpu.cfs_period_us contents → CPUs; nullopt for -1.
std::optional<double> quota_from_cfs(std::string_view quota_us, std::string_view period_us);
// The directories that may hold this process's CPU quota, from /proc/self/mountinfo and
// /proc/self/cgroup contents: its cgroup under each cgroup2 mount ("0::/path"), then under
// each v1 hierarchy whose controllers include "cpu". The caller reads the first that has
// the file (a hybrid host mounts cgroup2 without the cpu controller).
struct cgroup_dir {
    std::string path;
    bool v2 = false;
};
std::vector<cgroup_dir> cpu_cgroup_dirs(std::string_view mountinfo, std::string_view proc_cgroup);
// ceil(quota) capped by `affinity`, at least 1.
std::size_t cpu_budget(std::size_t affinity, std::optional<double> quota);

}  // namespace svc::runtime
