// The server in-process over real loopback sockets, with test routes and a test authenticator:
// what the binary's system routes cannot show (auth before body, handler errors, drain).
#include "http/server.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>

#include "http/problem.hpp"

namespace svc::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using namespace std::chrono_literals;

std::atomic<int> g_echo_calls{0};

asio::awaitable<response> echo(route_context& context) {
    ++g_echo_calls;
    response r;
    r.content_type = "text/plain";
    r.body = context.principal->subject + ":" + context.request.body;
    co_return r;
}

asio::awaitable<response> item(route_context& context) {
    response r;
    r.body = context.params.at("id") + "|" + context.request.query;
    co_return r;
}

asio::awaitable<response> boom(route_context& /*context*/) {
    throw std::runtime_error("SELECT secret FROM credentials");
    co_return response{};
}

asio::awaitable<response> conflict(route_context& /*context*/) {
    throw problem_error(409, "Already there");
    co_return response{};
}

// Handlers the shutdown tests send a request to, counting the ones that started, so that a
// test waits until its request is in a handler rather than sleeping and hoping it is.
std::atomic<int> g_handlers_started{0};

asio::awaitable<response> wait_then_answer(std::chrono::milliseconds duration, std::string body) {
    ++g_handlers_started;
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(asio::use_awaitable);
    response r;
    r.body = std::move(body);
    co_return r;
}

asio::awaitable<response> slow(route_context& /*context*/) {
    return wait_then_answer(300ms, "slow done");
}

// Longer than any test: only a shutdown's grace period ends it.
asio::awaitable<response> stuck(route_context& /*context*/) {
    return wait_then_answer(60s, "stuck done");
}

// Waits (bounded) until `count` handlers have started since the program began.
void wait_for_handlers_started(int count) {
    for (int i = 0; i < 500 && g_handlers_started < count; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_GE(g_handlers_started, count) << "the request never reached its handler";
}

asio::awaitable<response> plain(route_context& /*context*/) {
    co_return response{200, "application/json; charset=utf-8", {}, R"({"ok":true})"};
}

std::vector<route> test_routes() {
    std::vector<route> routes;
    routes.push_back({method::get, "/public", access::public_, plain, {}});
    routes.push_back({method::post, "/echo", access::user, echo, {}});
    routes.push_back({method::post, "/admin", access::admin, echo, {}});
    routes.push_back({method::get, "/items/{id}", access::public_, item, {}});
    routes.push_back({method::get, "/boom", access::public_, boom, {}});
    routes.push_back({method::get, "/conflict", access::public_, conflict, {}});
    routes.push_back({method::get, "/slow", access::public_, slow, {}});
    routes.push_back({method::get, "/stuck", access::public_, stuck, {}});
    return routes;
}

// "Bearer user" → alice, "Bearer admin" → root (admin), anything else → invalid token.
auth::result test_authenticator(std::optional<std::string_view> header) {
    if (!header) return auth::failure{"Missing bearer token", false};
    if (*header == "Bearer user") return auth::principal{"alice", {}, false};
    if (*header == "Bearer admin") return auth::principal{"root", {"admin"}, true};
    return auth::failure{"Invalid token", true};
}

using beast_response = bhttp::response<bhttp::string_body>;

// A blocking loopback client whose reads are bounded in time.
class client {
public:
    explicit client(std::uint16_t port) { socket_.connect({asio::ip::make_address("127.0.0.1"), port}); }

    void send(std::string_view raw) { asio::write(socket_, asio::buffer(raw)); }

    // The next response, or nullopt when none arrives within `timeout` or the peer closed.
    std::optional<beast_response> read(std::chrono::milliseconds timeout = 5000ms) {
        beast_response response;
        bool done = false;
        boost::system::error_code error;
        bhttp::async_read(socket_, buffer_, response, [&](boost::system::error_code ec, std::size_t) {
            done = true;
            error = ec;
        });
        io_.restart();
        io_.run_for(timeout);
        if (!done) {
            socket_.cancel();
            io_.restart();
            io_.run();
            return std::nullopt;
        }
        if (error) return std::nullopt;
        return response;
    }

    // True when the server closes the connection within `timeout`.
    bool closed_by_peer(std::chrono::milliseconds timeout = 2000ms) {
        char byte = 0;
        bool closed = false;
        bool done = false;
        socket_.async_read_some(asio::buffer(&byte, 1), [&](boost::system::error_code ec, std::size_t) {
            done = true;
            closed = static_cast<bool>(ec);
        });
        io_.restart();
        io_.run_for(timeout);
        if (!done) {
            socket_.cancel();
            io_.restart();
            io_.run();
        }
        return closed;
    }

private:
    asio::io_context io_;
    asio::ip::tcp::socket socket_{io_};
    boost::beast::flat_buffer buffer_;
};

class server_test : public ::testing::Test {
protected:
    void start(server_options options = {}) {
        options.host = "127.0.0.1";
        options.port = 0;
        loops_ = std::make_unique<runtime::event_loops>(2);
        router_ = std::make_unique<router>(test_routes());
        server_ = std::make_unique<server>(*loops_, *router_, test_authenticator, options);
        server_->start();
        thread_ = std::thread([this] { loops_->run(); });
    }

    void TearDown() override { stop(); }

    void stop() {
        if (!thread_.joinable()) return;
        server_->shutdown([this] { loops_->stop(); });
        thread_.join();
        server_.reset();
        router_.reset();
        loops_.reset();
    }

    std::uint16_t port() const { return server_->port(); }

    std::unique_ptr<runtime::event_loops> loops_;
    std::unique_ptr<router> router_;
    std::unique_ptr<server> server_;
    std::thread thread_;
};

TEST_F(server_test, missing_token_is_401_before_the_body_is_read) {
    start();
    g_echo_calls = 0;
    client c(port());
    // 100 body bytes announced, none sent: a server that read the body first would hang here.
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
    const auto r = c.read(2000ms);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 401U);
    EXPECT_EQ((*r)["WWW-Authenticate"], "Bearer");
    EXPECT_EQ(r->body(), R"({"detail":"Missing bearer token","type":"unauthorized"})");
    EXPECT_EQ(g_echo_calls, 0);
}

TEST_F(server_test, invalid_token_is_401_invalid_token_whatever_the_body) {
    start();
    client c(port());
    c.send("POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer nope\r\nContent-Length: 8\r\n\r\nnot json"
    );
    const auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 401U);
    EXPECT_EQ((*r)["WWW-Authenticate"], R"(Bearer error="invalid_token")");
}

TEST_F(server_test, admin_route_refuses_a_user_with_403) {
    start();
    client c(port());
    c.send("POST /admin HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer user\r\nContent-Length: 2\r\n\r\n{}");
    const auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 403U);
    EXPECT_NE(r->body().find(R"("type":"forbidden")"), std::string::npos);
}

TEST_F(server_test, authenticated_request_gets_principal_and_body_and_keeps_the_connection) {
    start();
    client c(port());
    c.send("POST /admin HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer admin\r\nContent-Length: 5\r\n\r\nhello"
    );
    auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 200U);
    EXPECT_EQ(r->body(), "root:hello");
    EXPECT_EQ((*r)[bhttp::field::content_type], "text/plain");
    c.send(
        "POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer user\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    );
    r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body(), "alice:abcde");
}

TEST_F(server_test, expect_100_continue_is_answered_after_authentication) {
    start();
    client c(port());
    c.send(
        "POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer user\r\nExpect: "
        "100-continue\r\nContent-Length: 3\r\n\r\n"
    );
    const auto interim = c.read();
    ASSERT_TRUE(interim);
    EXPECT_EQ(interim->result_int(), 100U);
    c.send("xyz");
    const auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body(), "alice:xyz");
}

TEST_F(server_test, chunked_body_over_the_limit_is_413) {
    server_options options;
    options.max_body_bytes = 4;
    start(options);
    client c(port());
    c.send(
        "POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer user\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"
    );
    const auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 413U);
    EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(server_test, a_malformed_chunked_body_is_400_with_the_request_id_then_closed) {
    start();
    g_echo_calls = 0;
    for (const std::string_view body : {
             "+2c\r\n0123456789012345678901234567890123456789abcd\r\n0\r\n\r\n",   // signed size
             "0x2c\r\n0123456789012345678901234567890123456789abcd\r\n0\r\n\r\n",  // hex prefix
             "fffffffffffffffffffff\r\nab\r\n0\r\n\r\n",                           // size overflows
             "3\nabc\n0\n\n",                                                      // bare LF
             "zz\r\nab\r\n0\r\n\r\n",                                              // not hex
         }) {
        client c(port());
        c.send(
            "POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer user\r\nX-Request-ID: chunk-1\r\n"
            "Transfer-Encoding: chunked\r\n\r\n" +
            std::string(body)
        );
        const auto r = c.read();
        ASSERT_TRUE(r) << body;
        EXPECT_EQ(r->result_int(), 400U) << body;
        EXPECT_EQ((*r)["X-Request-ID"], "chunk-1");
        EXPECT_EQ(r->body(), R"({"detail":"Malformed request body","type":"bad_request"})");
        EXPECT_TRUE(c.closed_by_peer()) << body;
    }
    EXPECT_EQ(g_echo_calls, 0);
}

// A client that writes each chunk as it has it: the framing arrives split at any point, also
// between a chunk's data and its CRLF and inside a CRLF, and must still be read as framing.
TEST_F(server_test, a_chunked_body_split_across_writes_is_read_whole) {
    start();
    client c(port());
    c.send(
        "POST /echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer user\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for (const std::string_view piece : {"3\r\nabc", "\r\n", "2\r\nde\r", "\n0\r\nX-T: 1\r\n", "\r\n"}) {
        std::this_thread::sleep_for(30ms);  // separate reads on the server, not a condition waited for
        c.send(piece);
    }
    const auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 200U);
    EXPECT_EQ(r->body(), "alice:abcde");
}

TEST_F(server_test, path_parameters_are_decoded_and_query_kept_raw) {
    start();
    client c(port());
    c.send("GET /items/a%20b/?limit=5&x=%41 HTTP/1.1\r\nHost: t\r\n\r\n");
    const auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body(), "a b|limit=5&x=%41");
}

TEST_F(server_test, unexpected_exception_is_500_without_internals) {
    start();
    client c(port());
    c.send("GET /boom HTTP/1.1\r\nHost: t\r\nX-Request-ID: boom-1\r\n\r\n");
    const auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 500U);
    EXPECT_EQ(r->body(), R"({"detail":"Internal server error","type":"internal_error"})");
    EXPECT_EQ((*r)["X-Request-ID"], "boom-1");
    // The connection survives a handler's failure.
    c.send("GET /public HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(c.read());
}

TEST_F(server_test, problem_error_becomes_the_contract_body) {
    start();
    client c(port());
    c.send("GET /conflict HTTP/1.1\r\nHost: t\r\n\r\n");
    const auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 409U);
    EXPECT_EQ(r->body(), R"({"detail":"Already there","type":"conflict"})");
}

TEST_F(server_test, headers_over_the_limit_are_431) {
    server_options options;
    options.max_header_bytes = 1024;
    start(options);
    client c(port());
    c.send("GET /public HTTP/1.1\r\nHost: t\r\nX-Fill: " + std::string(2000, 'a') + "\r\n\r\n");
    const auto r = c.read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->result_int(), 431U);
    EXPECT_EQ(
        r->body(), R"({"detail":"Request headers are larger than the limit","type":"headers_too_large"})"
    );
}

TEST_F(server_test, stalled_headers_are_dropped_at_the_deadline) {
    server_options options;
    options.header_timeout = 300ms;
    start(options);
    client stalled(port());
    stalled.send("GET /public HTTP/1.1\r\nHost: t\r\n");
    client other(port());
    other.send("GET /public HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(other.read(1000ms));
    EXPECT_TRUE(stalled.closed_by_peer(2000ms));
}

// SO_REUSEPORT alone hashes connections to the loops unevenly; each new connection goes to the
// loop with the fewest, so connections opened one after another stay within one of each
// other (random placement leaves that band within a few connections), and the ones moved to
// another loop are served there like any other.
TEST_F(server_test, new_connections_go_to_the_loop_with_the_fewest) {
    start();
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 40; ++i) {
        clients.push_back(std::make_unique<client>(port()));
        clients.back()->send("GET /public HTTP/1.1\r\nHost: t\r\n\r\n");
        const auto r = clients.back()->read();
        ASSERT_TRUE(r) << "connection " << i;
        EXPECT_EQ(r->result_int(), 200);
        const auto counts = server_->connections_per_loop();
        ASSERT_EQ(counts.size(), 2U);
        EXPECT_EQ(counts[0] + counts[1], clients.size());
        EXPECT_LE(std::max(counts[0], counts[1]) - std::min(counts[0], counts[1]), 1U)
            << "after connection " << i << ": " << counts[0] << " / " << counts[1];
    }
    // Every connection, moved or not, keeps serving requests.
    for (auto& c : clients) {
        c->send("GET /items/x?q=1 HTTP/1.1\r\nHost: t\r\n\r\n");
        const auto r = c->read();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body(), "x|q=1");
    }
    clients.clear();
    for (int i = 0; i < 100 && server_->open_connections() != 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(server_->connections_per_loop(), (std::vector<std::size_t>{0, 0}));
}

TEST_F(server_test, shutdown_finishes_requests_in_flight_and_closes_idle_connections) {
    start();
    client idle(port());
    idle.send("GET /public HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(idle.read());
    client busy(port());
    const int started_before = g_handlers_started;
    busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for_handlers_started(started_before + 1);

    std::atomic<bool> stopped{false};
    server_->shutdown([this, &stopped] {
        stopped = true;
        loops_->stop();
    });
    EXPECT_TRUE(server_->draining());
    EXPECT_TRUE(idle.closed_by_peer(1000ms));
    const auto r = busy.read(2000ms);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body(), "slow done");
    EXPECT_FALSE(r->keep_alive());
    thread_.join();
    EXPECT_TRUE(stopped);
}

TEST_F(server_test, grace_period_cuts_off_what_is_left) {
    server_options options;
    options.shutdown_grace = 100ms;
    start(options);
    client busy(port());
    const int started_before = g_handlers_started;
    busy.send("GET /stuck HTTP/1.1\r\nHost: t\r\n\r\n");
    wait_for_handlers_started(started_before + 1);
    const auto started = std::chrono::steady_clock::now();
    server_->shutdown([this] { loops_->stop(); });
    thread_.join();
    // The handler would answer after 60 s: the grace period cut it off.
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

}  // namespace
}  // namespace svc::http
