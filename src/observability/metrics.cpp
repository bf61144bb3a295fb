#include "observability/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>

namespace svc::obs {

namespace {

std::atomic<std::uint64_t> g_next_family_id{1};

struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using series_cache = std::unordered_map<std::string, void*, string_hash, std::equal_to<>>;

// Per-thread caches of label values → series, one per family id. A family id is never reused,
// so a cache entry of a destroyed registry is never looked up again (it only costs memory,
// which matters only in tests that create many registries).
thread_local std::unordered_map<std::uint64_t, series_cache> t_caches;
thread_local std::string t_key;

bool is_metric_name(std::string_view name) {
    if (name.empty()) {
        return false;
    }
    const auto head = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    };
    const auto tail = [&](char c) { return head(c) || (c >= '0' && c <= '9'); };
    return head(name.front()) && std::all_of(name.begin() + 1, name.end(), tail);
}

bool is_label_name(std::string_view name) {
    if (name.empty() || name.starts_with("__")) {
        return false;
    }
    const auto head = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
    const auto tail = [&](char c) { return head(c) || (c >= '0' && c <= '9'); };
    return head(name.front()) && std::all_of(name.begin() + 1, name.end(), tail);
}

// A plain loop: GCC 12 at -O2 reports a false null dereference in std::ranges::equal on an
// empty std::span (-Wnull-dereference).
bool same_bounds(std::span<const double> a, const std::vector<double>& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i] != b[i]) {
            return false;
        }
    }
    return true;
}

std::string_view type_name(metric_type type) {
    switch (type) {
        case metric_type::counter:
            return "counter";
        case metric_type::gauge:
            return "gauge";
        case metric_type::histogram:
            return "histogram";
    }
    return "untyped";
}

// Label values escape backslash, double quote and newline; HELP text only the first and last.
void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
    for (const char c : text) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && escape_quote) {
            out += "\\\"";
        } else {
            out += c;
        }
    }
}

void append_double(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else {
        char buffer[32];
        const auto result = std::to_chars(std::begin(buffer), std::end(buffer), v);
        out.append(std::begin(buffer), result.ptr);
    }
}

void append_uint(std::string& out, std::uint64_t v) {
    char buffer[24];
    const auto result = std::to_chars(std::begin(buffer), std::end(buffer), v);
    out.append(std::begin(buffer), result.ptr);
}

void append_header(std::string& out, std::string_view name, std::string_view help, metric_type type) {
    out += "# HELP ";
    out += name;
    out += ' ';
    append_escaped(out, help, false);
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type_name(type);
    out += '\n';
}

// Appends `name{labels}` (no braces when `labels` is empty).
void append_sample_name(std::string& out, std::string_view name, std::string_view labels) {
    out += name;
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
}

}  // namespace

histogram::histogram(std::span<const double> upper_bounds)
    : upper_bounds_(upper_bounds),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(upper_bounds.size() + 1)) {}

void histogram::observe(double value) noexcept {
    std::size_t bucket = upper_bounds_.size();
    if (!std::isnan(value)) {
        // Buckets are inclusive upper bounds ("le"): the first bound >= value.
        bucket = static_cast<std::size_t>(
            std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin()
        );
    }
    counts_[bucket].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
}

namespace detail {

family_base::family_base(
    metric_type type, std::string name, std::string help, std::vector<std::string> label_names
)
    : type_(type),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      id_(g_next_family_id.fetch_add(1, std::memory_order_relaxed)) {}

family_base::~family_base() = default;

void* family_base::find_or_create(std::span<const std::string_view> label_values) {
    if (label_values.size() != label_names_.size()) {
        throw std::invalid_argument(
            "metric " + name_ + " takes " + std::to_string(label_names_.size()) + " label values, got " +
            std::to_string(label_values.size())
        );
    }
    // Length-prefixed values make the key unambiguous whatever bytes the values hold.
    t_key.clear();
    for (const auto value : label_values) {
        const auto size = static_cast<std::uint32_t>(value.size());
        t_key.append(reinterpret_cast<const char*>(&size), sizeof size);
        t_key.append(value);
    }
    auto& cache = t_caches[id_];
    if (const auto hit = cache.find(std::string_view(t_key)); hit != cache.end()) {
        return hit->second;
    }

    std::vector<std::string> key(label_values.begin(), label_values.end());
    void* series = nullptr;
    {
        const std::scoped_lock lock(mutex_);
        auto [it, inserted] = series_.try_emplace(std::move(key), nullptr);
        if (inserted) {
            it->second = make_series();
        }
        series = it->second;
    }
    cache.emplace(t_key, series);
    return series;
}

void family_base::expose(std::string& out) const {
    append_header(out, name_, help_, type_);
    std::string labels;
    const std::scoped_lock lock(mutex_);
    for (const auto& [values, series] : series_) {
        labels.clear();
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (i > 0) {
                labels += ',';
            }
            labels += label_names_[i];
            labels += "=\"";
            append_escaped(labels, values[i], true);
            labels += '"';
        }
        expose_series(out, labels, series);
    }
}

}  // namespace detail

template <class Series>
family<Series>::family(
    metric_type type,
    std::string name,
    std::string help,
    std::vector<std::string> label_names,
    std::vector<double> upper_bounds
)
    : family_base(type, std::move(name), std::move(help), std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {}

template <class Series>
family<Series>::~family() {
    // Series are owned through type-erased pointers in the base; free them here, where the
    // type is known. No other thread may use the family any more.
    for_each_series([this](void* series) { destroy_series(series); });
}

template <class Series>
void* family<Series>::make_series() {
    if constexpr (std::is_same_v<Series, histogram>) {
        return new histogram(upper_bounds_);
    } else {
        return new Series();
    }
}

template <class Series>
void family<Series>::destroy_series(void* series) noexcept {
    delete static_cast<Series*>(series);
}

template <class Series>
void family<Series>::expose_series(std::string& out, const std::string& labels, const void* series) const {
    const auto& s = *static_cast<const Series*>(series);
    if constexpr (std::is_same_v<Series, counter>) {
        append_sample_name(out, name(), labels);
        append_uint(out, s.value());
        out += '\n';
    } else if constexpr (std::is_same_v<Series, gauge>) {
        append_sample_name(out, name(), labels);
        append_double(out, s.value());
        out += '\n';
    } else {
        // Cumulative buckets; _count is the +Inf bucket so the two always agree even while
        // observations arrive during the exposition.
        std::uint64_t cumulative = 0;
        const std::string bucket_name = name() + "_bucket";
        std::string bucket_labels;
        const auto bounds = s.upper_bounds();
        for (std::size_t i = 0; i <= bounds.size(); ++i) {
            cumulative += s.bucket_count(i);
            bucket_labels = labels;
            if (!bucket_labels.empty()) {
                bucket_labels += ',';
            }
            bucket_labels += "le=\"";
            if (i < bounds.size()) {
                append_double(bucket_labels, bounds[i]);
            } else {
                bucket_labels += "+Inf";
            }
            bucket_labels += '"';
            append_sample_name(out, bucket_name, bucket_labels);
            append_uint(out, cumulative);
            out += '\n';
        }
        append_sample_name(out, name() + "_sum", labels);
        append_double(out, s.sum());
        out += '\n';
        append_sample_name(out, name() + "_count", labels);
        append_uint(out, cumulative);
        out += '\n';
    }
}

template class family<counter>;
template class family<gauge>;
template class family<histogram>;

std::vector<double> default_buckets() {
    return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> latency_buckets() {
    return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

registry::registry() = default;
registry::~registry() = default;

template <class Series>
family<Series>& registry::add_family(
    metric_type type,
    std::string name,
    std::string help,
    std::vector<std::string> label_names,
    std::vector<double> upper_bounds
) {
    if (!is_metric_name(name)) {
        throw std::invalid_argument("invalid metric name: " + name);
    }
    for (const auto& label : label_names) {
        if (!is_label_name(label) || (type == metric_type::histogram && label == "le")) {
            throw std::invalid_argument("invalid label name for " + name + ": " + label);
        }
    }
    if (type == metric_type::histogram &&
        (upper_bounds.empty() || !std::is_sorted(upper_bounds.begin(), upper_bounds.end()) ||
         std::adjacent_find(upper_bounds.begin(), upper_bounds.end()) != upper_bounds.end())) {
        throw std::invalid_argument("histogram " + name + " needs strictly ascending bucket bounds");
    }

    family<Series>* result = nullptr;
    {
        const std::scoped_lock lock(mutex_);
        for (auto& e : entries_) {
            const std::string& existing = e.family ? e.family->name() : e.callback->name;
            if (existing != name) {
                continue;
            }
            auto* same = dynamic_cast<family<Series>*>(e.family.get());
            if (same == nullptr || same->type() != type || same->label_names() != label_names ||
                !same_bounds(same->upper_bounds(), upper_bounds)) {
                throw std::invalid_argument("metric " + name + " is already registered differently");
            }
            return *same;
        }
        auto created = std::make_unique<family<Series>>(
            type, std::move(name), std::move(help), std::move(label_names), std::move(upper_bounds)
        );
        result = created.get();
        entries_.push_back(entry{std::move(created), nullptr});
    }
    // An unlabelled series exists from the start, so it is exposed as 0 before its first use.
    if (result->label_names().empty()) {
        result->get();
    }
    return *result;
}

counter_family& registry::add_counter(
    std::string name, std::string help, std::vector<std::string> label_names
) {
    return add_family<counter>(
        metric_type::counter, std::move(name), std::move(help), std::move(label_names), {}
    );
}

gauge_family& registry::add_gauge(std::string name, std::string help, std::vector<std::string> label_names) {
    return add_family<gauge>(
        metric_type::gauge, std::move(name), std::move(help), std::move(label_names), {}
    );
}

histogram_family& registry::add_histogram(
    std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> upper_bounds
) {
    return add_family<histogram>(
        metric_type::histogram,
        std::move(name),
        std::move(help),
        std::move(label_names),
        std::move(upper_bounds)
    );
}

void registry::add_callback(
    std::string name, std::string help, metric_type type, std::function<double()> read
) {
    if (!is_metric_name(name)) {
        throw std::invalid_argument("invalid metric name: " + name);
    }
    if (type == metric_type::histogram) {
        throw std::invalid_argument("a callback metric is a counter or a gauge");
    }
    const std::scoped_lock lock(mutex_);
    for (auto& e : entries_) {
        if (e.callback && e.callback->name == name) {
            e.callback->help = std::move(help);
            e.callback->type = type;
            e.callback->read = std::move(read);
            return;
        }
        if (e.family && e.family->name() == name) {
            throw std::invalid_argument("metric " + name + " is already registered differently");
        }
    }
    entries_.push_back(entry{
        nullptr,
        std::make_unique<callback_metric>(callback_metric{
            std::move(name), std::move(help), type, std::move(read)})});
}

std::string registry::expose() const {
    std::string out;
    out.reserve(8192);
    const std::scoped_lock lock(mutex_);
    for (const auto& e : entries_) {
        if (e.family) {
            e.family->expose(out);
        } else {
            append_header(out, e.callback->name, e.callback->help, e.callback->type);
            append_sample_name(out, e.callback->name, {});
            append_double(out, e.callback->read());
            out += '\n';
        }
    }
    return out;
}

registry& default_registry() {
    static registry instance;
    return instance;
}

}  // namespace svc::obs
