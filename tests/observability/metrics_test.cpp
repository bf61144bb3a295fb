#include "observability/metrics.hpp"

#include <thread>

#include <gtest/gtest.h>

#include "observability/process_metrics.hpp"

namespace svc::obs {
namespace {

TEST(metrics, counter_exposition_with_labels_in_registration_order) {
    registry reg;
    auto& requests = reg.add_counter("app_requests_total", "Requests.", {"method", "status"});
    requests.with({"GET", "200"}).inc();
    requests.with({"GET", "200"}).inc(2);
    requests.with({"POST", "201"}).inc();
    EXPECT_EQ(
        reg.expose(),
        "# HELP app_requests_total Requests.\n"
        "# TYPE app_requests_total counter\n"
        "app_requests_total{method=\"GET\",status=\"200\"} 3\n"
        "app_requests_total{method=\"POST\",status=\"201\"} 1\n"
    );
}

TEST(metrics, unlabelled_series_are_exposed_as_zero_before_first_use) {
    registry reg;
    reg.add_counter("things_total", "Things.");
    reg.add_gauge("level", "Level.");
    EXPECT_EQ(
        reg.expose(),
        "# HELP things_total Things.\n# TYPE things_total counter\nthings_total 0\n"
        "# HELP level Level.\n# TYPE level gauge\nlevel 0\n"
    );
}

TEST(metrics, gauge_goes_up_and_down) {
    registry reg;
    auto& g = reg.add_gauge("pool_connections", "Connections.", {"state"});
    g.with({"idle"}).set(5);
    g.with({"idle"}).dec();
    g.with({"busy"}).inc(1.5);
    const auto text = reg.expose();
    EXPECT_NE(text.find("pool_connections{state=\"idle\"} 4\n"), std::string::npos) << text;
    EXPECT_NE(text.find("pool_connections{state=\"busy\"} 1.5\n"), std::string::npos) << text;
}

// The interleaving set_settled exists for: this publisher reads the sum (3), another loop then
// changes its count and publishes the new sum (4), and only then does this one set its value.
// A plain set(read()) would leave the stale 3 for good.
TEST(metrics, set_settled_does_not_leave_a_sum_read_before_another_publisher_set_a_newer_one) {
    gauge g;
    double sum = 3;
    int reads = 0;
    set_settled(g, [&] {
        const double value = sum;
        if (reads++ == 0) {
            sum = 4;   // the other loop's change…
            g.set(4);  // …and its publish, both before our set
        }
        return value;
    });
    EXPECT_EQ(g.value(), 4);
    EXPECT_EQ(reads, 3);  // read 3, set 3, read 4, set 4, read 4: settled
}

TEST(metrics, histogram_buckets_are_cumulative_and_inclusive) {
    registry reg;
    auto& h = reg.add_histogram("latency_seconds", "Latency.", {"route"}, {0.1, 1});
    auto& series = h.with({"/a"});
    series.observe(0.05);
    series.observe(0.1);  // le is inclusive
    series.observe(0.5);
    series.observe(7);
    EXPECT_EQ(
        reg.expose(),
        "# HELP latency_seconds Latency.\n"
        "# TYPE latency_seconds histogram\n"
        "latency_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n"
        "latency_seconds_bucket{route=\"/a\",le=\"1\"} 3\n"
        "latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
        "latency_seconds_sum{route=\"/a\"} 7.65\n"
        "latency_seconds_count{route=\"/a\"} 4\n"
    );
}

TEST(metrics, label_values_and_help_are_escaped) {
    registry reg;
    reg.add_counter("odd_total", "Line one\nback\\slash \"quoted\"", {"v"}).with({"a\"b\\c\nd"}).inc();
    EXPECT_EQ(
        reg.expose(),
        "# HELP odd_total Line one\\nback\\\\slash \"quoted\"\n"
        "# TYPE odd_total counter\n"
        "odd_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"
    );
}

TEST(metrics, registration_is_idempotent_and_conflicts_throw) {
    registry reg;
    auto& first = reg.add_counter("x_total", "X.", {"a"});
    EXPECT_EQ(&first, &reg.add_counter("x_total", "X.", {"a"}));
    EXPECT_THROW(reg.add_counter("x_total", "X.", {"b"}), std::invalid_argument);
    EXPECT_THROW(reg.add_gauge("x_total", "X.", {"a"}), std::invalid_argument);
    EXPECT_THROW(reg.add_counter("bad-name", "X."), std::invalid_argument);
    EXPECT_THROW(reg.add_counter("ok_total", "X.", {"__reserved"}), std::invalid_argument);
    EXPECT_THROW(reg.add_histogram("h", "H.", {"le"}), std::invalid_argument);
    EXPECT_THROW(reg.add_histogram("h2", "H.", {}, {1, 0.5}), std::invalid_argument);
    EXPECT_THROW(first.with({"one", "two"}), std::invalid_argument);
}

TEST(metrics, concurrent_updates_from_many_threads_are_all_counted) {
    registry reg;
    auto& counter_family = reg.add_counter("hits_total", "Hits.", {"route"});
    auto& histogram_family = reg.add_histogram("d_seconds", "D.", {"route"}, {1});
    constexpr int k_threads = 4;
    constexpr int k_per_thread = 20000;
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < k_per_thread; ++i) {
                // Lookups race with creation of the same series on other threads.
                counter_family.with({i % 2 == 0 ? "/even" : "/odd"}).inc();
                histogram_family.with({t % 2 == 0 ? "/a" : "/b"}).observe(0.5);
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(
        counter_family.with({"/even"}).value() + counter_family.with({"/odd"}).value(),
        static_cast<std::uint64_t>(k_threads * k_per_thread)
    );
    const auto& a = histogram_family.with({"/a"});
    EXPECT_EQ(a.bucket_count(0), static_cast<std::uint64_t>(2 * k_per_thread));
    EXPECT_DOUBLE_EQ(a.sum(), 0.5 * 2 * k_per_thread);
}

TEST(metrics, callbacks_are_read_at_exposition) {
    registry reg;
    double value = 1;
    reg.add_callback("temperature", "T.", metric_type::gauge, [&] { return value; });
    EXPECT_NE(reg.expose().find("temperature 1\n"), std::string::npos);
    value = 2.5;
    EXPECT_NE(reg.expose().find("temperature 2.5\n"), std::string::npos);
}

TEST(metrics, process_metrics_report_this_process) {
    registry reg;
    register_process_metrics(reg);
    const auto text = reg.expose();
    const auto value_of = [&](const std::string& name) {
        const auto at = text.find("\n" + name + " ");
        EXPECT_NE(at, std::string::npos) << name;
        return std::stod(text.substr(at + name.size() + 2));
    };
    EXPECT_GT(value_of("process_resident_memory_bytes"), 1e6);
    EXPECT_GE(value_of("process_open_fds"), 3);
    const double now = static_cast<double>(std::time(nullptr));
    EXPECT_NEAR(value_of("process_start_time_seconds"), now, 3600);
    EXPECT_GE(value_of("process_cpu_seconds_total"), 0);
}

}  // namespace
}  // namespace svc::obs
