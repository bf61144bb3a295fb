// CPU cost of the API layer per request, without I/O: decoding + validating the bodies the
// load scenarios send, rendering an order and a page of orders, reading query strings.
// Meaningful only in an optimised build:
//   build/<release dir>/bench/orders/orders_api_bench --benchmark_min_time=1

#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "api/bodies.hpp"
#include "api/request.hpp"
#include "json/decode.hpp"
#include "json/encode.hpp"
#include "json/query.hpp"

namespace svc::api {
namespace {

// The end-to-end benchmark's create_order body: two items.
const std::string k_create_body =
    R"({"items": [{"product_id": "p17", "quantity": 2}, {"product_id": "p71", "quantity": 1}]})";

std::string hundred_items_body() {
    std::string body = R"({"items": [)";
    for (int i = 0; i < 100; ++i) {
        if (i > 0) body += ",";
        body += R"({"product_id": "product-)" + std::to_string(i) + R"(", "quantity": 3})";
    }
    return body + "]}";
}

orders::order sample_order(int items) {
    orders::order o;
    o.id = "01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a10";
    o.user_id = "user17";
    o.status = orders::order_status::paid;
    o.version = 2;
    o.created_at = 1'764'547'200'123'456;
    o.updated_at = 1'764'547'201'654'321;
    for (int i = 0; i < items; ++i) {
        o.items.push_back({"p" + std::to_string(i + 1), 2, 1299, 2598});
        o.total_cents += 2598;
    }
    return o;
}

void decode_create_order(benchmark::State& state) {
    for (auto _ : state) {
        auto result = json::decode_body<order_create_body>(k_create_body);
        benchmark::DoNotOptimize(result);
    }
}
BENCHMARK(decode_create_order);

void decode_hundred_items(benchmark::State& state) {
    const auto body = hundred_items_body();
    for (auto _ : state) {
        auto result = json::decode_body<order_items_body>(body);
        benchmark::DoNotOptimize(result);
    }
}
BENCHMARK(decode_hundred_items);

void invalid_body_with_every_issue(benchmark::State& state) {
    const std::string body =
        R"({"user_id": 1.5, "items": [{"product_id": "bad id", "quantity": "2"}, {"quantity": 0}]})";
    for (auto _ : state) {
        auto result = json::decode_body<order_create_body>(body);
        benchmark::DoNotOptimize(result);
    }
}
BENCHMARK(invalid_body_with_every_issue);

void render_order(benchmark::State& state) {
    const auto o = sample_order(2);
    for (auto _ : state) {
        auto text = json::to_text(to_view(o));
        benchmark::DoNotOptimize(text);
    }
}
BENCHMARK(render_order);

void render_page_of_50_orders(benchmark::State& state) {
    const auto o = sample_order(2);
    for (auto _ : state) {
        order_page_view page;
        page.data.reserve(50);
        for (int i = 0; i < 50; ++i) page.data.push_back(to_view(o));
        page.next_cursor = encode_cursor(cursor_kind::order, o.id);
        auto text = json::to_text(page);
        benchmark::DoNotOptimize(text);
    }
}
BENCHMARK(render_page_of_50_orders);

void read_list_query(benchmark::State& state) {
    const auto cursor = encode_cursor(cursor_kind::order, "01936f0e-7a4c-7c1e-9b2a-3f9d2c1e8a10");
    const std::string query = "limit=20&status=paid&cursor=" + cursor;
    for (auto _ : state) {
        auto result = json::decode_query<order_list_query>(query);
        auto key = decode_cursor(cursor_kind::order, *std::get<order_list_query>(result).cursor);
        benchmark::DoNotOptimize(key);
    }
}
BENCHMARK(read_list_query);

void idempotency_fingerprint(benchmark::State& state) {
    const std::string canonical = "owner=user17\np17:2\np71:1\n";
    for (auto _ : state) {
        auto digest = sha256_hex(canonical);
        benchmark::DoNotOptimize(digest);
    }
}
BENCHMARK(idempotency_fingerprint);

}  // namespace
}  // namespace svc::api

BENCHMARK_MAIN();
