// What the OpenAPI document costs: building it (once, at start-up) and answering
// GET /openapi.json and a /docs asset (a copy of the text into the response body per
// request, or a 304 when the client's ETag still matches). Meaningful in an optimised build.

#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "api/routes.hpp"
#include "openapi/docs_routes.hpp"
#include "openapi/document.hpp"

namespace {

using namespace svc;

void build_document(benchmark::State& state) {
    const auto routes = api::routes_for_documentation();
    for (auto _ : state) {
        auto table = routes;
        benchmark::DoNotOptimize(openapi::add_docs_routes(table));
    }
}
BENCHMARK(build_document)->Unit(benchmark::kMicrosecond);

// Runs the handler of `path_template` to completion on an io_context, as the server does.
void serve(benchmark::State& state, const char* path_template, const char* file, bool revalidate) {
    std::vector<http::route> routes = api::routes_for_documentation();
    openapi::add_docs_routes(routes);
    const http::route* route = nullptr;
    for (const auto& r : routes)
        if (r.path_template == path_template) route = &r;
    http::request request;
    http::path_params params;
    if (file != nullptr) params.values.emplace_back("file", file);
    boost::asio::io_context io;
    auto call = [&] {
        http::route_context ctx{request, params, std::nullopt, "bench"};
        auto result = boost::asio::co_spawn(io, route->handler(ctx), boost::asio::use_future);
        io.restart();
        io.run();
        return result.get();
    };
    if (revalidate)
        request.headers.push_back({"If-None-Match", std::string(*http::find_header(call().headers, "ETag"))});
    std::size_t bytes = 0;
    for (auto _ : state) {
        auto response = call();
        bytes += response.body.size();
        benchmark::DoNotOptimize(response);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK_CAPTURE(serve, openapi_json, "/openapi.json", nullptr, false);
BENCHMARK_CAPTURE(serve, openapi_json_304, "/openapi.json", nullptr, true);
BENCHMARK_CAPTURE(serve, swagger_ui_bundle, "/docs/{file}", "swagger-ui-bundle.js", false);

}  // namespace

BENCHMARK_MAIN();
