#pragma once
// Metrics registry with the Prometheus text exposition format 0.0.4.
//
// Usage (at start-up, once):
//     auto& created = obs::default_registry().add_counter(
//         "orders_created_total", "Orders created.");
//     auto& transitions = obs::default_registry().add_counter(
//         "order_status_transitions_total", "Order status changes.", {"from", "to"});
// and on the request path:
//     created.get().inc();
//     transitions.with({"pending", "paid"}).inc();
//
// Families are registered once with their label names fixed. A series (one combination of
// label values) is created on first use and lives as long as the registry; label values must
// therefore come from small fixed sets (route templates, status codes, states) and never from
// user input. `with()` is lock-free after a thread has used a combination once (a thread-local
// cache sits in front of the mutex-guarded series map), and every update is a relaxed atomic,
// so the request path takes no lock. The returned reference may also be kept and reused.

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace svc::obs {

enum class metric_type { counter, gauge, histogram };

// A monotonically increasing count. Thread-safe, lock-free.
class counter {
public:
    void inc(std::uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down. Thread-safe, lock-free.
class gauge {
public:
    void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
    void inc(double by = 1.0) noexcept { value_.fetch_add(by, std::memory_order_relaxed); }
    void dec(double by = 1.0) noexcept { value_.fetch_sub(by, std::memory_order_relaxed); }
    double value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0.0};
};

// Sets `g` to read(), and again until the value set is the one read back. For a gauge that
// several threads publish as a sum of per-thread counts (the database pool's slices): a
// publisher that read the sum before another thread's change could otherwise set it after
// that thread set the newer sum, and the gauge would stay wrong until the next change —
// for good on an idle service. Whoever publishes last re-reads the final counts.
template <class Read>
void set_settled(gauge& g, Read read) {
    for (double value = read();;) {
        g.set(value);
        const double again = read();
        if (again == value) return;
        value = again;
    }
}

// Counts observations into fixed buckets (upper bounds, ascending; +Inf is implicit) and
// keeps their sum. Thread-safe, lock-free: one relaxed increment per observation plus one
// relaxed add to the sum.
class histogram {
public:
    // `upper_bounds` must outlive the histogram (the owning family keeps them).
    explicit histogram(std::span<const double> upper_bounds);

    void observe(double value) noexcept;

    std::span<const double> upper_bounds() const { return upper_bounds_; }
    // Non-cumulative count of bucket `i`; i == upper_bounds().size() is the +Inf bucket.
    std::uint64_t bucket_count(std::size_t i) const noexcept {
        return counts_[i].load(std::memory_order_relaxed);
    }
    double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }

private:
    std::span<const double> upper_bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // upper_bounds_.size() + 1 entries
    std::atomic<double> sum_{0.0};
};

namespace detail {

// What every family shares, independent of the series type. Guarded as documented per member.
class family_base {
public:
    family_base(metric_type type, std::string name, std::string help, std::vector<std::string> label_names);
    virtual ~family_base();
    family_base(const family_base&) = delete;
    family_base& operator=(const family_base&) = delete;
    family_base(family_base&&) = delete;
    family_base& operator=(family_base&&) = delete;

    metric_type type() const { return type_; }
    const std::string& name() const { return name_; }
    const std::string& help() const { return help_; }
    const std::vector<std::string>& label_names() const { return label_names_; }

    // Appends this family's # HELP, # TYPE and sample lines to `out`. Thread-safe.
    void expose(std::string& out) const;

protected:
    // Returns the series for `label_values` (created on first use). Thread-safe; lock-free
    // when the calling thread has seen this combination before. Throws std::invalid_argument
    // when the number of values differs from the number of label names.
    void* find_or_create(std::span<const std::string_view> label_values);

    // Calls `f(series)` for every series; only for the derived destructor (no concurrency).
    template <class F>
    void for_each_series(F&& f) {
        for (auto& entry : series_) {
            f(entry.second);
        }
    }

private:
    virtual void* make_series() = 0;
    virtual void destroy_series(void* series) noexcept = 0;
    virtual void expose_series(std::string& out, const std::string& labels, const void* series) const = 0;

    const metric_type type_;
    const std::string name_;
    const std::string help_;
    const std::vector<std::string> label_names_;
    const std::uint64_t id_;  // unique per process: keys the thread-local caches

    mutable std::mutex mutex_;
    std::map<std::vector<std::string>, void*> series_;  // guarded by mutex_; never shrinks
};

}  // namespace detail

// All series of one metric name. Created only by registry; lives as long as the registry.
template <class Series>
class family final : public detail::family_base {
public:
    // The series for these label values, one per label name in registration order.
    // Thread-safe; throws std::invalid_argument on a wrong number of values.
    Series& with(std::initializer_list<std::string_view> label_values) {
        return *static_cast<Series*>(find_or_create(std::span(label_values.begin(), label_values.size())));
    }
    Series& with(std::span<const std::string_view> label_values) {
        return *static_cast<Series*>(find_or_create(label_values));
    }
    // The only series of a family registered without labels.
    Series& get() { return with(std::span<const std::string_view>{}); }

    // Bucket upper bounds (histograms only; empty otherwise).
    std::span<const double> upper_bounds() const { return upper_bounds_; }

    family(
        metric_type type,
        std::string name,
        std::string help,
        std::vector<std::string> label_names,
        std::vector<double> upper_bounds = {}
    );
    ~family() override;

private:
    void* make_series() override;
    void destroy_series(void* series) noexcept override;
    void expose_series(std::string& out, const std::string& labels, const void* series) const override;

    const std::vector<double> upper_bounds_;
};

using counter_family = family<counter>;
using gauge_family = family<gauge>;
using histogram_family = family<histogram>;

// Prometheus' default buckets, in seconds: 5 ms … 10 s.
std::vector<double> default_buckets();
// Buckets for fast request paths, in seconds: 100 µs … 10 s.
std::vector<double> latency_buckets();

// A set of metric families and their exposition. Registration is thread-safe but meant for
// start-up; exposition (expose()) may run concurrently with updates from any thread.
class registry {
public:
    registry();
    ~registry();
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;
    registry(registry&&) = delete;
    registry& operator=(registry&&) = delete;

    // Registers a family, or returns the existing one when `name` is already registered with
    // the same type and label names (so a module may be initialised twice, e.g. in tests).
    // Throws std::invalid_argument for an invalid metric or label name, or when `name` exists
    // with another type or other labels. The reference stays valid for the registry's life.
    counter_family& add_counter(
        std::string name, std::string help, std::vector<std::string> label_names = {}
    );
    gauge_family& add_gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
    histogram_family& add_histogram(
        std::string name,
        std::string help,
        std::vector<std::string> label_names = {},
        std::vector<double> upper_bounds = default_buckets()
    );

    // An unlabelled counter or gauge whose value is read by `read` at each exposition (process
    // metrics, pool sizes). `read` runs on the thread that serves /metrics; it must be
    // thread-safe and cheap. Re-registering a name replaces its callback.
    void add_callback(std::string name, std::string help, metric_type type, std::function<double()> read);

    // The whole registry in the Prometheus text format 0.0.4, families in registration order.
    std::string expose() const;

private:
    template <class Series>
    family<Series>& add_family(
        metric_type type,
        std::string name,
        std::string help,
        std::vector<std::string> label_names,
        std::vector<double> upper_bounds
    );

    struct callback_metric {
        std::string name;
        std::string help;
        metric_type type;
        std::function<double()> read;
    };
    // An entry is a family or a callback; kept in one list for a stable exposition order.
    struct entry {
        std::unique_ptr<detail::family_base> family;  // null for callbacks
        std::unique_ptr<callback_metric> callback;
    };

    mutable std::mutex mutex_;
    std::vector<entry> entries_;  // guarded by mutex_; only grows (family pointers stay valid)
};

// The process-wide registry that /metrics exposes.
registry& default_registry();

// The Content-Type of expose()'s output.
inline constexpr std::string_view k_exposition_content_type = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace svc::obs
