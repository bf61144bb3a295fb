#include "runtime/cpu_budget.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <sched.h>

namespace svc::runtime {

namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    while (true) {
        const auto at = text.find(separator);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos) return parts;
        text.remove_prefix(at + 1);
    }
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::optional<long long> whole_number(std::string_view s) {
    s = trim(s);
    long long value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return value;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return {};
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

bool lists(std::string_view comma_separated, std::string_view item) {
    for (const auto part : split(comma_separated, ',')) {
        if (part == item) return true;
    }
    return false;
}

// The process's path in the hierarchy: v2 ("0::/path") or the v1 line naming "cpu".
std::optional<std::string_view> cgroup_path(std::string_view proc_cgroup, bool v2) {
    for (const auto line : split(proc_cgroup, '\n')) {
        const auto fields = split(line, ':');
        if (fields.size() < 3) continue;
        // The path itself may contain ':'; it is everything after the second one.
        const auto path = line.substr(fields[0].size() + fields[1].size() + 2);
        if (v2 ? (fields[0] == "0" && fields[1].empty()) : lists(fields[1], "cpu")) return path;
    }
    return std::nullopt;
}

// Mount point + the process's path below the mount's root. In a container the mount's root
// is the container's own cgroup: /proc/self/cgroup repeats it (no cgroup namespace) or shows
// "/" (a namespace); a path outside the root stands for the mount point itself.
std::string join_below_root(std::string_view mount_point, std::string_view root, std::string_view path) {
    std::string_view below = path;
    if (root != "/") {
        const bool inside =
            path.starts_with(root) && (path.size() == root.size() || path[root.size()] == '/');
        below = inside ? path.substr(root.size()) : std::string_view();
    }
    std::string dir(mount_point);
    if (below != "/") dir += below;
    return dir;
}

}  // namespace

std::optional<double> quota_from_cpu_max(std::string_view cpu_max) {
    const auto fields = split(trim(cpu_max), ' ');
    if (fields.size() != 2) return std::nullopt;
    return quota_from_cfs(fields[0], fields[1]);  // "max" is no number: no quota
}

std::optional<double> quota_from_cfs(std::string_view quota_us, std::string_view period_us) {
    const auto quota = whole_number(quota_us);
    const auto period = whole_number(period_us);
    if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;  // -1: no quota
    return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::vector<cgroup_dir> cpu_cgroup_dirs(std::string_view mountinfo, std::string_view proc_cgroup) {
    std::vector<cgroup_dir> v2;
    std::vector<cgroup_dir> v1;
    for (const auto line : split(mountinfo, '\n')) {
        // id parent major:minor root mount-point options [optional fields…] - fstype source super-options
        const auto fields = split(line, ' ');
        if (fields.size() < 10) continue;  // not a mount line (e.g. the final empty one)
        std::size_t dash = 6;
        while (dash < fields.size() && fields[dash] != "-") ++dash;
        if (dash + 1 >= fields.size()) continue;
        const auto fstype = fields[dash + 1];
        const auto super_options = dash + 3 < fields.size() ? fields[dash + 3] : std::string_view();
        const auto root = fields[3];
        const auto mount_point = fields[4];
        if (fstype == "cgroup2") {
            if (const auto path = cgroup_path(proc_cgroup, true)) {
                v2.push_back({join_below_root(mount_point, root, *path), true});
            }
        } else if (fstype == "cgroup" && lists(super_options, "cpu")) {
            if (const auto path = cgroup_path(proc_cgroup, false)) {
                v1.push_back({join_below_root(mount_point, root, *path), false});
            }
        }
    }
    v2.insert(v2.end(), v1.begin(), v1.end());
    return v2;
}

std::size_t cpu_budget(std::size_t affinity, std::optional<double> quota) {
    const std::size_t cpus = std::max<std::size_t>(affinity, 1);
    // ceil of a positive quota is at least 1, so the minimum stays at least 1.
    if (!quota || *quota <= 0) return cpus;
    return std::min(cpus, static_cast<std::size_t>(std::ceil(*quota)));
}

std::size_t available_cpus() {
    std::size_t affinity = std::thread::hardware_concurrency();
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) affinity = static_cast<std::size_t>(CPU_COUNT(&set));

    // On a hybrid host the cgroup2 mount carries no cpu controller (no cpu.max): the v1
    // hierarchy that follows it in the list is the one that counts.
    std::optional<double> quota;
    for (const auto& dir :
         cpu_cgroup_dirs(read_file("/proc/self/mountinfo"), read_file("/proc/self/cgroup"))) {
        if (dir.v2) {
            const auto cpu_max = read_file(dir.path + "/cpu.max");
            if (cpu_max.empty()) continue;
            quota = quota_from_cpu_max(cpu_max);
        } else {
            const auto quota_us = read_file(dir.path + "/cpu.cfs_quota_us");
            if (quota_us.empty()) continue;
            quota = quota_from_cfs(quota_us, read_file(dir.path + "/cpu.cfs_period_us"));
        }
        break;
    }
    return cpu_budget(affinity, quota);
}

}  // namespace svc::runtime
