#include "observability/process_metrics.hpp"

#include <fstream>
#include <sstream>
#include <string>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

namespace svc::obs {

namespace {

// Field 22 of /proc/self/stat is the start time in clock ticks since boot; fields 14 and 15 are
// user and system CPU time in ticks. The command name (field 2) may hold spaces, so parsing
// starts after its closing parenthesis.
struct proc_stat {
    double user_ticks = 0;
    double system_ticks = 0;
    double start_ticks = 0;
};

proc_stat read_proc_stat() {
    std::ifstream file("/proc/self/stat");
    std::string line;
    std::getline(file, line);
    proc_stat result;
    const auto close = line.rfind(')');
    if (close == std::string::npos) {
        return result;
    }
    std::istringstream fields(line.substr(close + 2));
    std::string field;
    // After ")" the next field is number 3 (state).
    for (int number = 3; fields >> field; ++number) {
        if (number == 14) {
            result.user_ticks = std::stod(field);
        }
        if (number == 15) {
            result.system_ticks = std::stod(field);
        }
        if (number == 22) {
            result.start_ticks = std::stod(field);
            break;
        }
    }
    return result;
}

double read_status_kib(std::string_view key) {
    std::ifstream file("/proc/self/status");
    std::string line;
    while (std::getline(file, line)) {
        if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':') {
            return std::stod(line.substr(key.size() + 1)) * 1024.0;
        }
    }
    return 0;
}

double boot_time_seconds() {
    std::ifstream file("/proc/stat");
    std::string line;
    while (std::getline(file, line)) {
        if (line.starts_with("btime ")) {
            return std::stod(line.substr(6));
        }
    }
    return 0;
}

double count_open_fds() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        return 0;
    }
    double count = 0;
    while (const dirent* e = ::readdir(dir)) {
        if (e->d_name[0] != '.') {
            ++count;
        }
    }
    ::closedir(dir);
    return count - 1;  // the descriptor opendir() itself holds
}

}  // namespace

void register_process_metrics(registry& reg) {
    const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
    // The start time never changes: compute it once.
    const double start_time = boot_time_seconds() + read_proc_stat().start_ticks / ticks_per_second;

    reg.add_callback(
        "process_cpu_seconds_total",
        "Total user and system CPU time spent in seconds.",
        metric_type::counter,
        [ticks_per_second] {
            const auto stat = read_proc_stat();
            return (stat.user_ticks + stat.system_ticks) / ticks_per_second;
        }
    );
    reg.add_callback(
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        metric_type::gauge,
        [] { return read_status_kib("VmRSS"); }
    );
    reg.add_callback("process_virtual_memory_bytes", "Virtual memory size in bytes.", metric_type::gauge, [] {
        return read_status_kib("VmSize");
    });
    reg.add_callback(
        "process_open_fds", "Number of open file descriptors.", metric_type::gauge, count_open_fds
    );
    reg.add_callback("process_max_fds", "Maximum number of open file descriptors.", metric_type::gauge, [] {
        rlimit limit{};
        return ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? static_cast<double>(limit.rlim_cur) : 0.0;
    });
    reg.add_callback(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        metric_type::gauge,
        [start_time] { return start_time; }
    );
}

}  // namespace svc::obs
