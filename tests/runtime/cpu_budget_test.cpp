// THREADS' default: the CPUs the process may use. The parsers get the kernel's own formats
// (Documentation/admin-guide/cgroup-v2.rst, cgroup-v1/cpu, proc(5) mountinfo); this host's
// real files are read by available_cpus(), checked against sched_getaffinity.
#include "runtime/cpu_budget.hpp"

#include <gtest/gtest.h>

#include <sched.h>

namespace svc::runtime {
namespace {

TEST(cpu_budget, cgroup_v2_cpu_max) {
    EXPECT_EQ(quota_from_cpu_max("max 100000\n"), std::nullopt);
    EXPECT_EQ(quota_from_cpu_max("200000 100000\n"), 2.0);
    EXPECT_EQ(quota_from_cpu_max("150000 100000"), 1.5);
    EXPECT_EQ(quota_from_cpu_max("50000 100000\n"), 0.5);
    EXPECT_EQ(quota_from_cpu_max(""), std::nullopt);
    EXPECT_EQ(quota_from_cpu_max("abc 100000"), std::nullopt);
    EXPECT_EQ(quota_from_cpu_max("100000 0"), std::nullopt);
}

TEST(cpu_budget, cgroup_v1_cfs_quota) {
    EXPECT_EQ(quota_from_cfs("-1\n", "100000\n"), std::nullopt);
    EXPECT_EQ(quota_from_cfs("300000\n", "100000\n"), 3.0);
    EXPECT_EQ(quota_from_cfs("", ""), std::nullopt);
}

TEST(cpu_budget, quota_rounds_up_and_never_exceeds_affinity) {
    EXPECT_EQ(cpu_budget(16, std::nullopt), 16U);
    EXPECT_EQ(cpu_budget(16, 1.0), 1U);
    EXPECT_EQ(cpu_budget(16, 1.5), 2U);
    EXPECT_EQ(cpu_budget(16, 0.1), 1U);
    EXPECT_EQ(cpu_budget(2, 8.0), 2U);
    EXPECT_EQ(cpu_budget(0, std::nullopt), 1U);
}

// cgroup v2: a Kubernetes pod with a private cgroup namespace (the mount's root and the
// process's path are both "/"), and a systemd service (its own cgroup below the mount; the
// mount line also carries an optional field).
TEST(cpu_budget, finds_the_cgroup_v2_directory) {
    struct case_ {
        const char* mountinfo;
        const char* proc_cgroup;
        const char* expected;
    };
    for (const auto& c : {
             case_{
                 "22 28 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
                 "1095 1094 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw\n",
                 "0::/\n",
                 "/sys/fs/cgroup"},
             case_{
                 "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
                 "rw,nsdelegate\n",
                 "0::/system.slice/orders.service\n",
                 "/sys/fs/cgroup/system.slice/orders.service"},
         }) {
        const auto dirs = cpu_cgroup_dirs(c.mountinfo, c.proc_cgroup);
        ASSERT_EQ(dirs.size(), 1U) << c.expected;
        EXPECT_EQ(dirs[0].path, c.expected);
        EXPECT_TRUE(dirs[0].v2);
    }
}

// Docker on cgroup v1 without a cgroup namespace: the mount's root is the container's own
// cgroup and /proc/self/cgroup repeats it; the cpu controller shares a hierarchy with cpuacct.
// A hybrid host also mounts cgroup2 (no controllers): it comes first, the caller skips it.
TEST(cpu_budget, cgroup_v1_hierarchy_with_a_container_root) {
    const auto dirs = cpu_cgroup_dirs(
        "700 690 0:40 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
        "701 690 0:41 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n"
        "702 690 0:42 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
        "12:memory:/docker/abc\n"
        "4:cpu,cpuacct:/docker/abc\n"
        "0::/docker/abc\n"
    );
    ASSERT_EQ(dirs.size(), 2U);
    EXPECT_TRUE(dirs[0].v2);
    EXPECT_FALSE(dirs[1].v2);
    EXPECT_EQ(dirs[1].path, "/sys/fs/cgroup/cpu,cpuacct");
}

TEST(cpu_budget, no_cgroup_mounted) {
    EXPECT_TRUE(cpu_cgroup_dirs("22 28 0:21 / /sys rw - sysfs sysfs rw\n", "0::/\n").empty());
    EXPECT_TRUE(cpu_cgroup_dirs("", "").empty());
}

// This process: never more than its affinity, at least one.
TEST(cpu_budget, available_cpus_is_within_the_affinity) {
    cpu_set_t set;
    CPU_ZERO(&set);
    ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
    const auto cpus = available_cpus();
    EXPECT_GE(cpus, 1U);
    EXPECT_LE(cpus, static_cast<std::size_t>(CPU_COUNT(&set)));
}

}  // namespace
}  // namespace svc::runtime
