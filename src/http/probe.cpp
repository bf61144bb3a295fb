#include "http/probe.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace svc::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
constexpr auto k_as_tuple = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> run_probe(
    std::string host,
    std::uint16_t port,
    std::string target,
    std::chrono::milliseconds timeout,
    std::optional<probe_result>& result
) {
    auto executor = co_await asio::this_coro::executor;
    asio::ip::tcp::resolver resolver(executor);
    auto [resolve_error, endpoints] = co_await resolver.async_resolve(host, std::to_string(port), k_as_tuple);
    if (resolve_error) {
        co_return;
    }
    beast::tcp_stream stream(executor);
    stream.expires_after(timeout);  // one deadline for connect, write and read together
    auto [connect_error, endpoint] = co_await stream.async_connect(endpoints, k_as_tuple);
    if (connect_error) {
        co_return;
    }
    bhttp::request<bhttp::empty_body> request{bhttp::verb::get, target, 11};
    request.set(bhttp::field::host, host + ":" + std::to_string(port));
    request.set(bhttp::field::connection, "close");
    auto [write_error, written] = co_await bhttp::async_write(stream, request, k_as_tuple);
    if (write_error) {
        co_return;
    }
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(16 * 1024 * 1024);
    auto [read_error, read] = co_await bhttp::async_read(stream, buffer, parser, k_as_tuple);
    if (read_error) {
        co_return;
    }
    result = probe_result{parser.get().result_int(), std::move(parser.get().body())};
}

}  // namespace

std::optional<probe_result> probe_get(
    const std::string& host, std::uint16_t port, const std::string& target, std::chrono::milliseconds timeout
) {
    asio::io_context context(1);
    std::optional<probe_result> result;
    asio::co_spawn(context, run_probe(host, port, target, timeout, result), asio::detached);
    // The resolver is not covered by the stream's deadline: bound the whole run as well.
    context.run_for(timeout);
    return result;
}

}  // namespace svc::http
