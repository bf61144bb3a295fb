// The only translation unit of the service that includes Beast's HTTP machinery.
#include "http/server.hpp"

#include <atomic>
#include <charconv>
#include <ctime>
#include <system_error>
#include <unordered_set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include "http/problem.hpp"
#include "http/request_id.hpp"
#include "observability/logging.hpp"
#include "observability/metrics.hpp"
#include <sys/socket.h>
#include <unistd.h>

namespace svc::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

using clock = std::chrono::steady_clock;
using executor = asio::io_context::executor_type;
using tcp = asio::ip::tcp;
// Streams and acceptors bound to the concrete io_context executor: no type-erased executor
// on the hot path.
using socket_type = asio::basic_stream_socket<tcp, executor>;
using acceptor_type = asio::basic_socket_acceptor<tcp, executor>;
using stream_type = beast::basic_stream<tcp, executor, beast::unlimited_rate_policy>;
using parser_type = bhttp::request_parser<bhttp::string_body>;

// Expected I/O outcomes (timeouts, resets, limits) come back as error codes, not exceptions.
constexpr auto k_as_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t k_read_chunk = 4096;
// After an early answer (401, 404, 413…) to a request whose body we did not read, the rest of
// the body is read and thrown away for at most this long / this much, so the client sees the
// answer instead of a connection reset.
constexpr auto k_linger_time = std::chrono::seconds(2);
constexpr std::size_t k_linger_bytes = std::size_t{4} * 1024 * 1024;
constexpr std::string_view k_unmatched_route = "unmatched";
// RFC 9112 §2.2: a server SHOULD ignore at least one empty line received before a request line
// (some clients send a CRLF after a POST body). Up to this many are ignored per request.
constexpr int k_ignored_empty_lines = 2;

struct http_metrics {
    obs::counter_family& requests;
    obs::histogram_family& duration;
    obs::gauge& in_flight;
    obs::gauge& connections;
    obs::counter& rejected_connections;
    obs::counter& dropped_slow_clients;
};

http_metrics& metrics() {
    auto& reg = obs::default_registry();
    static http_metrics instance{
        reg.add_counter("http_requests_total", "HTTP requests answered.", {"method", "route", "status"}),
        reg.add_histogram(
            "http_request_duration_seconds",
            "Time from the end of the request headers to the end of the response.",
            {"method", "route"},
            obs::latency_buckets()
        ),
        reg.add_gauge("http_requests_in_flight", "HTTP requests being processed.").get(),
        reg.add_gauge("http_open_connections", "Open client connections.").get(),
        reg.add_counter(
               "http_connections_rejected_total", "Connections closed at once: max_connections reached."
        )
            .get(),
        reg.add_counter(
               "http_slow_clients_dropped_total",
               "Connections dropped because headers or body arrived too slowly."
        )
            .get(),
    };
    return instance;
}

method from_beast(bhttp::verb verb) {
    switch (verb) {
        case bhttp::verb::get:
            return method::get;
        case bhttp::verb::head:
            return method::head;
        case bhttp::verb::post:
            return method::post;
        case bhttp::verb::put:
            return method::put;
        case bhttp::verb::patch:
            return method::patch;
        case bhttp::verb::delete_:
            return method::delete_;
        case bhttp::verb::options:
            return method::options;
        default:
            return method::other;
    }
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// Splits an origin-form target into a percent-decoded path and the raw query. Returns false
// for anything else ("*", absolute-form, bad escapes, a decoded NUL).
bool split_target(std::string_view target, std::string& path, std::string& query) {
    if (target.empty() || target.front() != '/') {
        return false;
    }
    const auto question = target.find('?');
    const auto raw_path = target.substr(0, question);
    query = question == std::string_view::npos ? std::string() : std::string(target.substr(question + 1));
    path.clear();
    path.reserve(raw_path.size());
    for (std::size_t i = 0; i < raw_path.size(); ++i) {
        if (raw_path[i] != '%') {
            path += raw_path[i];
            continue;
        }
        if (i + 2 >= raw_path.size()) {
            return false;
        }
        const int high = hex_value(raw_path[i + 1]);
        const int low = hex_value(raw_path[i + 2]);
        if (high < 0 || low < 0) {
            return false;
        }
        const char decoded = static_cast<char>(high * 16 + low);
        if (decoded == '\0') {
            return false;
        }
        path += decoded;
        i += 2;
    }
    return true;
}

// The Date header, formatted once per second per thread.
std::string_view http_date() {
    thread_local std::time_t cached_second = 0;
    thread_local char cached[32] = {};
    thread_local std::size_t cached_size = 0;
    const std::time_t now = std::time(nullptr);
    if (now != cached_second) {
        std::tm tm{};
        ::gmtime_r(&now, &tm);
        cached_size = std::strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_second = now;
    }
    return {cached, cached_size};
}

std::string_view status_label(unsigned status, std::array<char, 8>& buffer) {
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), status);
    return {buffer.data(), static_cast<std::size_t>(result.ptr - buffer.data())};
}

std::string allow_header(const std::vector<method>& allowed) {
    // A stable order, independent of the route table's.
    static constexpr method k_order[] = {
        method::get,
        method::head,
        method::post,
        method::put,
        method::patch,
        method::delete_,
        method::options};
    std::string value;
    for (const auto m : k_order) {
        if (std::ranges::find(allowed, m) == allowed.end()) {
            continue;
        }
        if (!value.empty()) {
            value += ", ";
        }
        value += to_string(m);
    }
    return value;
}

// A header name or value a handler set must not be able to end the header block or add
// another header: CR, LF and NUL are refused (the header is dropped and logged).
bool is_safe_header(const header& h) {
    const auto safe = [](std::string_view text) {
        return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
    };
    return !h.name.empty() && safe(h.name) && safe(h.value);
}

void append_number(std::string& out, std::size_t value) {
    char digits[24];
    const auto result = std::to_chars(std::begin(digits), std::end(digits), value);
    out.append(std::begin(digits), result.ptr);
}

// Writes the status line, headers and body into `out` (cleared first). Serialising by hand
// instead of through Beast's serializer halves the CPU spent per response: one contiguous
// buffer, one send.
void serialize_response(
    std::string& out,
    const response& res,
    std::string_view request_id,
    unsigned version,
    bool keep_alive,
    bool is_head
) {
    out.clear();
    out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    append_number(out, res.status);
    out += ' ';
    const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(res.status));
    out += reason.empty() ? std::string_view("Unknown") : std::string_view(reason.data(), reason.size());
    out += "\r\nDate: ";
    out += http_date();
    if (!res.content_type.empty() && !res.body.empty()) {
        out += "\r\nContent-Type: ";
        out += res.content_type;
    }
    for (const auto& h : res.headers) {
        if (!is_safe_header(h)) {
            spdlog::error("dropped a response header with CR, LF or NUL: {}", h.name);
            continue;
        }
        out += "\r\n";
        out += h.name;
        out += ": ";
        out += h.value;
    }
    out += "\r\nX-Request-ID: ";
    out += request_id;
    if (res.status >= 200 && res.status != 204 && res.status != 304) {
        out += "\r\nContent-Length: ";
        append_number(out, res.body.size());
    }
    if (!keep_alive) {
        out += "\r\nConnection: close";
    } else if (version == 10) {
        out += "\r\nConnection: keep-alive";
    }
    out += "\r\n\r\n";
    if (!is_head) {
        out += res.body;
    }
}

class session;

}  // namespace

// Per event loop: its acceptor and its connections. Touched only on that loop's thread.
struct loop_state {
    explicit loop_state(asio::io_context& loop_context) : context(loop_context) {
        acceptor.emplace(loop_context.get_executor());
    }
    asio::io_context& context;
    std::optional<acceptor_type> acceptor;  // reset by ~server, while the io_context exists
    std::unordered_set<session*> sessions;
    // Connections this loop serves or is being handed (any thread reads it; see accept_loop).
    std::atomic<std::size_t> connection_count{0};
};

struct server::shared_state : std::enable_shared_from_this<server::shared_state> {
    shared_state(const http::router& r, authenticator a, server_options o)
        : routes(r), authenticate(std::move(a)), options(std::move(o)) {
        if (options.rate_limit.per_second > 0) limiter = std::make_unique<rate_limiter>(options.rate_limit);
    }

    const http::router& routes;
    const authenticator authenticate;
    const server_options options;
    std::unique_ptr<rate_limiter> limiter;           // null: no limit
    std::uint16_t bound_port = 0;                    // written by start() before the loops run
    std::vector<std::unique_ptr<loop_state>> loops;  // [i] touched only on loop i
    std::atomic<bool> shutdown_requested{false};     // first shutdown() call wins
    std::atomic<bool> draining{false};               // set after on_stopped is stored
    std::atomic<bool> stopped_reported{false};
    std::atomic<std::size_t> open_connections{0};
    std::function<void()> on_stopped;  // written once, before `draining`
    asio::io_context* loop0 = nullptr;

    std::unique_ptr<asio::steady_timer> grace_timer;  // touched only on loop 0
    // Keep every loop running from start() until the server reports itself stopped: a loop
    // with no connection left must still run the shutdown steps posted to it later.
    std::vector<asio::executor_work_guard<executor>> keep_running;  // released on loop 0

    // A connection counted at accept is gone (its session ended, or it was never started).
    void connection_ended(loop_state& loop) {
        loop.connection_count.fetch_sub(1, std::memory_order_relaxed);
        const auto left = open_connections.fetch_sub(1, std::memory_order_acq_rel) - 1;
        if (left == 0 && draining.load(std::memory_order_acquire)) {
            report_stopped();
        }
    }

    // Runs on_stopped on loop 0, once. Callable from any loop.
    void report_stopped() {
        if (stopped_reported.exchange(true, std::memory_order_acq_rel)) {
            return;
        }
        asio::post(*loop0, [self = shared_from_this()] {
            if (self->grace_timer) {
                self->grace_timer->cancel();
            }
            if (self->on_stopped) {
                self->on_stopped();
            }
            for (auto& guard : self->keep_running) {
                guard.reset();
            }
        });
    }
};

namespace {

using shared_state = server::shared_state;

// One client connection: reads requests one after another (pipelined ones straight from the
// buffer), answers each in order, and closes on error, timeout, `Connection: close`, or
// shutdown. Lives on the frame of its coroutine (run_session) on one loop.
class session {
public:
    session(std::shared_ptr<shared_state> state, loop_state& loop, socket_type socket)
        : state_(std::move(state)), loop_(loop), stream_(std::move(socket)) {
        loop_.sessions.insert(this);
        metrics().connections.inc();
        boost::system::error_code ec;
        const auto endpoint = stream_.socket().remote_endpoint(ec);
        if (!ec) {
            peer_ = endpoint.address().to_string();
        }
    }

    ~session() {
        loop_.sessions.erase(this);
        metrics().connections.dec();
        state_->connection_ended(loop_);
    }

    session(const session&) = delete;
    session& operator=(const session&) = delete;
    session(session&&) = delete;
    session& operator=(session&&) = delete;

    asio::awaitable<void> run();

    // Shutdown began: a connection with no request in flight closes now; one with a request
    // in flight finishes it, and any request already received behind it, then closes.
    void on_drain() {
        if (phase_ != phase::in_flight) {
            stream_.cancel();
        }
    }

    // The grace period is over: close whatever is left.
    void cut_off() {
        boost::system::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.cancel();
    }

private:
    enum class phase : std::uint8_t { idle, reading_header, in_flight };

    // One request/response exchange; lives on serve_one()'s frame, and the members below
    // that take it by reference are awaited at once.
    struct exchange {
        request req;
        const parser_type::value_type* beast_request = nullptr;  // null: the headers did not parse
        std::string request_id;
        std::string_view route = k_unmatched_route;
        clock::time_point started;
        bool keep_alive = false;    // what the client asked for (HTTP/1.1 default, Connection)
        bool body_pending = false;  // headers read, body not (yet)
    };

    asio::awaitable<bool> serve_one();
    // Answers before the body is read (400, 401, 403, 404, 405, 413): keeping the connection
    // when consume_buffered_body() can, else through answer_and_close(). Returns whether the
    // connection can be reused.
    asio::awaitable<bool> reject(exchange& x, const problem& p);
    // Whether the refused request's body has already arrived whole, in `buffer_` with its
    // header: then it is consumed there — no waiting — and the connection serves the next
    // request. A small body sent with its header (curl, http.client, Go all send it so) thus
    // keeps the client's connection across a 401 or 404.
    bool consume_buffered_body(exchange& x);
    // Answers a request that was not read to its end — with `Connection: close`, then
    // linger() — and returns false: the connection cannot serve another request.
    asio::awaitable<bool> answer_and_close(exchange& x, const problem& p);
    // Writes `res` with the standard headers (`Connection: close` unless `keep_alive`),
    // records metrics and the access log line. Returns whether all of it was written.
    asio::awaitable<bool> write_response(exchange& x, response res, bool keep_alive);
    // Before closing a connection whose request was not read to its end: reads and discards
    // what the client still sends, bounded, so that closing with unread input does not reset
    // the connection and destroy the answer before the client has read it.
    asio::awaitable<void> linger();
    bool draining() const { return state_->draining.load(std::memory_order_acquire); }
    // Whether the connection stays open after answering `x`: as the client asked, and once
    // shutdown began only when another request has already arrived behind it (pipelined) —
    // it was received, so it is answered too; then the connection closes.
    bool stays_open_after(const exchange& x) const {
        return x.keep_alive && (!draining() || buffer_.size() > 0);
    }

    std::shared_ptr<shared_state> state_;
    loop_state& loop_;
    stream_type stream_;
    beast::flat_buffer buffer_;
    std::optional<parser_type> parser_;
    std::string write_buffer_;  // the response being written; its capacity is reused
    std::string peer_;
    phase phase_ = phase::idle;
};

// The length of the empty line (CRLF, or a bare LF) at the start of `buffer`, 0 when a request
// line starts there; nullopt when the buffer is empty or holds a lone CR: more bytes decide.
std::optional<std::size_t> leading_empty_line(const beast::flat_buffer& buffer) {
    const auto* bytes = static_cast<const char*>(buffer.data().data());
    const std::string_view start(bytes, std::min<std::size_t>(buffer.size(), 2));
    if (start.empty() || start == "\r") return std::nullopt;
    if (start == "\r\n") return 2;
    if (start.starts_with('\n')) return 1;
    return 0;
}

asio::awaitable<void> session::run() {
    const auto& options = state_->options;
    int empty_lines = 0;
    while (true) {
        const auto empty_line = leading_empty_line(buffer_);
        if (empty_line && *empty_line > 0 && empty_lines < k_ignored_empty_lines) {
            buffer_.consume(*empty_line);
            ++empty_lines;
            continue;
        }
        if (!empty_line) {
            // Shutdown began and nothing more has arrived: nothing is owed, close.
            if (draining()) break;
            // Waiting for the next request: the idle timeout applies until its first byte.
            phase_ = phase::idle;
            stream_.expires_after(options.idle_timeout);
            auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(k_read_chunk), k_as_tuple);
            if (ec) {
                break;  // includes on_drain() cancelling an idle connection
            }
            buffer_.commit(n);
            continue;
        }
        // Bytes of a request are here — read before shutdown began, or pipelined behind the
        // request just answered: serve it. (A header still incomplete when shutdown began is
        // cut short by on_drain().)
        phase_ = phase::reading_header;
        if (!co_await serve_one()) break;
        empty_lines = 0;
    }
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
}

asio::awaitable<bool> session::serve_one() {
    const auto& options = state_->options;
    auto& m = metrics();
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(options.max_header_bytes, UINT32_MAX))
    );
    // No body limit while reading the header: a declared oversize body must not look like a
    // malformed header. The real limit is set below, before any body byte is parsed.
    parser_->body_limit(boost::none);

    stream_.expires_after(options.header_timeout);
    auto [read_error, header_bytes] =
        co_await bhttp::async_read_header(stream_, buffer_, *parser_, k_as_tuple);
    exchange x;
    x.started = clock::now();
    // Beast bounds the request line and the header fields by the limit each; the limit is the
    // two together, as documented, so a long URL cannot double what a request may hold.
    const bool over_limit = !read_error && header_bytes > options.max_header_bytes;
    if (read_error || over_limit) {
        if (read_error == beast::error::timeout) {
            m.dropped_slow_clients.inc();
        }
        // Nobody to answer unless the bytes themselves were the problem.
        const bool too_large = over_limit || read_error == bhttp::error::header_limit;
        const bool malformed =
            read_error.category() == make_error_code(bhttp::error::bad_target).category() &&
            read_error != bhttp::error::end_of_stream && read_error != bhttp::error::partial_message &&
            !too_large;
        if (!too_large && !malformed) {
            co_return false;
        }
        phase_ = phase::in_flight;
        x.request_id = generate_request_id();
        co_return co_await answer_and_close(
            x,
            problem_error(
                too_large ? 431U : 400U,
                too_large ? "Request headers are larger than the limit" : "Malformed HTTP request"
            )
                .get()
        );
    }
    phase_ = phase::in_flight;
    m.in_flight.inc();
    struct in_flight_guard {
        obs::gauge& gauge;
        ~in_flight_guard() { gauge.dec(); }
    } guard{m.in_flight};

    auto& beast_request = parser_->get();
    x.beast_request = &beast_request;
    request& req = x.req;
    req.method = from_beast(beast_request.method());
    req.target = std::string(beast_request.target());
    req.headers.reserve(16);
    for (const auto& field : beast_request) {
        req.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    }
    const auto client_id = req.header_value("X-Request-ID");
    x.request_id =
        client_id && is_sane_request_id(*client_id) ? std::string(*client_id) : generate_request_id();
    x.body_pending = !parser_->is_done();
    parser_->body_limit(options.max_body_bytes);
    x.keep_alive = beast_request.keep_alive();

    // RFC 9112 §6.3: with a Transfer-Encoding that does not end in chunked the body has no
    // length the server can know; Beast reads such a request as bodiless, so its body would be
    // parsed as the next request (smuggling). Refused, and the connection closed.
    if (beast_request.count(bhttp::field::transfer_encoding) > 0 && !parser_->chunked()) {
        co_return co_await answer_and_close(x, problem_error(400, "Unsupported Transfer-Encoding").get());
    }

    if (!split_target(req.target, req.path, req.query)) {
        co_return co_await reject(x, problem_error(400, "Malformed request target").get());
    }

    // A declared oversize body is refused before anything else looks at the request.
    if (const auto length = parser_->content_length(); length && *length > options.max_body_bytes) {
        co_return co_await reject(x, problem_error(413, "Request body is larger than the limit").get());
    }

    auto found = state_->routes.find(req.method, req.path);
    if (found.found == nullptr) {
        if (found.allowed.empty()) co_return co_await reject(x, problem_error(404, "Not found").get());
        problem p = problem_error(405, "Method not allowed").get();
        p.headers.push_back({"Allow", allow_header(found.allowed)});
        // One label for every 404 and 405 keeps the series count bounded by the route table.
        co_return co_await reject(x, p);
    }
    const route& matched = *found.found;
    x.route = matched.path_template;

    route_context context{req, std::move(found.params), std::nullopt, x.request_id};
    if (matched.access != access::public_) {
        auth::result verdict = state_->authenticate(req.header_value("Authorization"));
        if (auto* failure = std::get_if<auth::failure>(&verdict)) {
            problem p =
                problem_error(401, failure->detail.empty() ? "Not authenticated" : failure->detail).get();
            p.headers.push_back(
                {"WWW-Authenticate", failure->token_given ? R"(Bearer error="invalid_token")" : "Bearer"}
            );
            co_return co_await reject(x, p);
        }
        auto& principal = std::get<auth::principal>(verdict);
        if (matched.access == access::admin && !principal.is_admin) {
            co_return co_await reject(x, problem_error(403, "Admin role required").get());
        }
        if (state_->limiter) {
            if (const auto wait = state_->limiter->acquire(principal.subject, rate_limiter::clock::now())) {
                problem p = problem_error(429, state_->limiter->refusal_detail()).get();
                p.headers.push_back({"Retry-After", std::to_string(wait->count())});
                co_return co_await reject(x, p);
            }
        }
        context.principal = std::move(principal);
    }

    if (x.body_pending) {
        if (beast_request[bhttp::field::expect] == "100-continue") {
            bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, beast_request.version()};
            stream_.expires_after(options.write_timeout);
            auto [ec, n] = co_await bhttp::async_write(stream_, go_on, k_as_tuple);
            if (ec) {
                co_return false;
            }
        }
        stream_.expires_after(options.body_timeout);
        auto [ec, n] = co_await bhttp::async_read(stream_, buffer_, *parser_, k_as_tuple);
        if (ec == bhttp::error::body_limit) {
            co_return co_await answer_and_close(
                x, problem_error(413, "Request body is larger than the limit").get()
            );
        }
        if (ec) {
            if (ec == beast::error::timeout) {
                m.dropped_slow_clients.inc();
            }
            co_return false;
        }
        x.body_pending = false;
        req.body = std::move(beast_request.body());
    }

    response res;
    try {
        res = co_await matched.handler(context);
    } catch (const problem_error& e) {
        res = make_problem_response(e.get());
    } catch (const std::exception& e) {
        // The client gets no detail; the log gets what we know, tied to the request id.
        spdlog::error(
            "unhandled exception in {} {} (request {}): {}",
            to_string(req.method),
            x.route,
            x.request_id,
            e.what()
        );
        res = make_problem_response(problem{500, "internal_error", {}, {}, {}});
    }
    const bool keep_alive = stays_open_after(x);
    const bool written = co_await write_response(x, std::move(res), keep_alive);
    co_return (written && keep_alive);
}

asio::awaitable<bool> session::reject(exchange& x, const problem& p) {
    if (x.body_pending && !consume_buffered_body(x)) co_return co_await answer_and_close(x, p);
    const bool reuse = stays_open_after(x);
    const bool written = co_await write_response(x, make_problem_response(p), reuse);
    co_return (written && reuse);
}

bool session::consume_buffered_body(exchange& x) {
    const auto remaining = parser_->content_length_remaining();
    if (!remaining || buffer_.size() < *remaining) {
        return false;  // chunked, or still on its way: answering must not wait for it
    }
    if (*remaining > state_->options.max_body_bytes) {
        return false;  // the 413 being given: a body over the limit is never read
    }
    while (!parser_->is_done()) {
        boost::system::error_code ec;
        const std::size_t used = parser_->put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec || used == 0) {
            return false;
        }
    }
    x.body_pending = false;
    return true;
}

asio::awaitable<bool> session::answer_and_close(exchange& x, const problem& p) {
    const bool written = co_await write_response(x, make_problem_response(p), false);
    if (written) co_await linger();
    co_return false;
}

asio::awaitable<bool> session::write_response(exchange& x, response res, bool keep_alive) {
    const request& req = x.req;
    const unsigned version = x.beast_request != nullptr ? x.beast_request->version() : 11;
    serialize_response(write_buffer_, res, x.request_id, version, keep_alive, req.method == method::head);
    stream_.expires_after(state_->options.write_timeout);
    auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(write_buffer_), k_as_tuple);

    const auto elapsed = clock::now() - x.started;
    const std::string_view method_label = x.beast_request != nullptr ? to_string(req.method) : "OTHER";
    std::array<char, 8> status_buffer{};
    const auto status = status_label(res.status, status_buffer);
    auto& m = metrics();
    m.requests.with({method_label, x.route, status}).inc();
    m.duration.with({method_label, x.route}).observe(std::chrono::duration<double>(elapsed).count());
    obs::log_access({
        .request_id = x.request_id,
        .method = method_label,
        .route = x.route,
        .target = req.target,
        .status = res.status,
        .duration = std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed),
        .peer = peer_,
    });
    co_return !ec;
}

asio::awaitable<void> session::linger() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(k_linger_time);
    std::size_t discarded = 0;
    buffer_.clear();
    while (discarded < k_linger_bytes) {
        auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(std::size_t{16} * 1024), k_as_tuple);
        if (ec) {
            break;
        }
        discarded += n;
        buffer_.clear();
    }
}

// A named coroutine owning the session by value on its frame (never a capturing lambda).
asio::awaitable<void> run_session(std::shared_ptr<shared_state> state, loop_state& loop, socket_type socket) {
    try {
        session s(std::move(state), loop, std::move(socket));
        co_await s.run();
    } catch (const std::exception& e) {
        spdlog::error("connection ended by an unexpected exception: {}", e.what());
    }
}

// The loop serving the fewest connections, `here` when it is among them. SO_REUSEPORT spreads
// connections over the loops by a hash of their addresses, so a few long-lived ones (a load
// balancer's, a benchmark's) land unevenly: wrk's 64 landed 35/29 on two loops, and the fuller
// loop's requests queued longer for its share of the pool and write slots. Counting
// connections, like Envoy's exact_balance, evens that out for clients that load each
// connection alike; the counts are read unsynchronised — an approximate balance is enough.
loop_state& least_loaded_loop(shared_state& state, loop_state& here) {
    loop_state* best = &here;
    std::size_t fewest = here.connection_count.load(std::memory_order_relaxed);
    for (auto& candidate : state.loops) {
        const std::size_t count = candidate->connection_count.load(std::memory_order_relaxed);
        if (count < fewest) {
            best = candidate.get();
            fewest = count;
        }
    }
    return *best;
}

// Moves an accepted connection to another loop: its descriptor leaves this loop's reactor and
// joins the target's (registering with another io_context's reactor is thread-safe; Asio's
// io_context-pool server example accepts onto other contexts the same way), and its session
// starts there. A connection arriving there once shutdown began is closed, as the acceptor
// would have done.
void hand_over(std::shared_ptr<shared_state> state, loop_state& target, socket_type socket) {
    socket_type moved(target.context.get_executor());
    boost::system::error_code ec;
    const tcp protocol = socket.local_endpoint(ec).protocol();
    if (!ec) {
        const auto fd = socket.release(ec);
        if (!ec) {
            moved.assign(protocol, fd, ec);
            if (ec) ::close(fd);
        }
    }
    if (ec) {
        spdlog::warn("handing a connection to another loop failed: {}", ec.message());
        boost::system::error_code ignored;
        socket.close(ignored);
        state->connection_ended(target);
        return;
    }
    asio::post(target.context, [state = std::move(state), &target, socket = std::move(moved)]() mutable {
        if (state->draining.load(std::memory_order_acquire)) {
            boost::system::error_code ignored;
            socket.close(ignored);
            state->connection_ended(target);
            return;
        }
        asio::co_spawn(target.context, run_session(state, target, std::move(socket)), asio::detached);
    });
}

asio::awaitable<void> accept_loop(std::shared_ptr<shared_state> state, loop_state& loop) {
    auto& m = metrics();
    asio::steady_timer backoff(loop.context);
    while (loop.acceptor->is_open()) {
        auto [ec, socket] = co_await loop.acceptor->async_accept(k_as_tuple);
        if (ec == asio::error::operation_aborted || !loop.acceptor->is_open()) {
            break;
        }
        if (ec) {
            // Typically EMFILE: wait a little instead of spinning on the same error.
            spdlog::warn("accept failed: {}", ec.message());
            backoff.expires_after(std::chrono::milliseconds(50));
            co_await backoff.async_wait(k_as_tuple);
            continue;
        }
        if (state->draining.load(std::memory_order_acquire)) {
            break;
        }
        const auto open = state->open_connections.fetch_add(1, std::memory_order_acq_rel) + 1;
        if (open > state->options.max_connections) {
            state->open_connections.fetch_sub(1, std::memory_order_acq_rel);
            m.rejected_connections.inc();
            boost::system::error_code ignored;
            socket.close(ignored);
            continue;
        }
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        loop_state& target = least_loaded_loop(*state, loop);
        target.connection_count.fetch_add(1, std::memory_order_relaxed);
        if (&target == &loop) {
            asio::co_spawn(loop.context, run_session(state, loop, std::move(socket)), asio::detached);
        } else {
            hand_over(state, target, std::move(socket));
        }
    }
}

}  // namespace

server::server(
    runtime::event_loops& loops,
    const http::router& routes,
    authenticator authenticate,
    server_options options
)
    : loops_(loops),
      state_(std::make_shared<shared_state>(routes, std::move(authenticate), std::move(options))) {
    metrics();  // register the HTTP metrics before the first scrape
    state_->loop0 = &loops.context(0);
    for (std::size_t i = 0; i < loops.size(); ++i) {
        state_->loops.push_back(std::make_unique<loop_state>(loops.context(i)));
    }
}

server::~server() {
    // The loops are not running. Objects bound to an io_context must go now, while every
    // context still exists: coroutine frames left on the loops hold the shared state and are
    // destroyed only with their own context, possibly after another loop's context is gone.
    state_->stopped_reported.store(true, std::memory_order_release);  // no more posts to loop 0
    state_->grace_timer.reset();
    for (auto& guard : state_->keep_running) {
        guard.reset();
    }
    for (auto& loop : state_->loops) {
        loop->acceptor.reset();
    }
}

namespace {

// SO_REUSEPORT lets any process of the same user bind the port too: a second instance started
// by mistake would silently take a share of the connections (and, on its own data directory,
// answer from another database). A plain bind first proves that nobody listens there; with
// SO_REUSEADDR, so that connections of a previous run still in TIME_WAIT do not count. Throws
// the bind's error ("Address already in use"), which start-up reports as exit 1.
void ensure_no_listener_on(const tcp::endpoint& endpoint, asio::io_context& context) {
    tcp::acceptor probe(context);
    probe.open(endpoint.protocol());
    probe.set_option(asio::socket_base::reuse_address(true));
    probe.bind(endpoint);
}

}  // namespace

std::uint16_t server::port() const {
    return state_->bound_port;
}

bool server::draining() const {
    return state_->draining.load(std::memory_order_acquire);
}

std::size_t server::open_connections() const {
    return state_->open_connections.load(std::memory_order_relaxed);
}

std::vector<std::size_t> server::connections_per_loop() const {
    std::vector<std::size_t> counts;
    counts.reserve(state_->loops.size());
    for (const auto& loop : state_->loops) {
        counts.push_back(loop->connection_count.load(std::memory_order_relaxed));
    }
    return counts;
}

void server::start() {
    const auto address = asio::ip::make_address(state_->options.host);
    std::uint16_t port = state_->options.port;
    if (port != 0) {
        ensure_no_listener_on(tcp::endpoint(address, port), state_->loops.front()->context);
    }
    for (auto& loop : state_->loops) {
        auto& acceptor = *loop->acceptor;
        const tcp::endpoint endpoint(address, port);
        acceptor.open(endpoint.protocol());
        acceptor.set_option(asio::socket_base::reuse_address(true));
        // One acceptor per loop on the same port: the kernel spreads new connections over them.
        const int on = 1;
        if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
            throw std::system_error(errno, std::generic_category(), "setsockopt(SO_REUSEPORT)");
        }
        acceptor.bind(endpoint);
        acceptor.listen(asio::socket_base::max_listen_connections);
        // With port 0 the first bind picks the port; the other loops join it.
        port = acceptor.local_endpoint().port();
    }
    state_->bound_port = port;
    for (auto& loop : state_->loops) {
        state_->keep_running.push_back(asio::make_work_guard(loop->context));
    }
    for (auto& loop : state_->loops) {
        asio::co_spawn(loop->context, accept_loop(state_, *loop), asio::detached);
    }
}

void server::shutdown(std::function<void()> on_stopped) {
    if (state_->shutdown_requested.exchange(true, std::memory_order_acq_rel)) {
        return;
    }
    state_->on_stopped = std::move(on_stopped);
    state_->draining.store(true, std::memory_order_release);

    for (auto& loop : state_->loops) {
        asio::post(loop->context, [state = state_, loop = loop.get()] {
            boost::system::error_code ignored;
            loop->acceptor->close(ignored);
            // on_drain() may end a session, which erases itself from the set: iterate a copy.
            const std::vector<session*> sessions(loop->sessions.begin(), loop->sessions.end());
            for (auto* s : sessions) {
                if (loop->sessions.contains(s)) {
                    s->on_drain();
                }
            }
        });
    }
    // The grace timer lives on loop 0 and is touched only there.
    asio::post(*state_->loop0, [state = state_] {
        state->grace_timer =
            std::make_unique<asio::steady_timer>(*state->loop0, state->options.shutdown_grace);
        state->grace_timer->async_wait([state](const boost::system::error_code& ec) {
            if (ec || state->stopped_reported.load(std::memory_order_acquire)) {
                return;
            }
            if (const auto left = state->open_connections.load(std::memory_order_acquire); left != 0) {
                spdlog::warn("shutdown grace period over; cutting off {} connection(s)", left);
            }
            for (auto& loop : state->loops) {
                asio::post(loop->context, [loop = loop.get()] {
                    const std::vector<session*> sessions(loop->sessions.begin(), loop->sessions.end());
                    for (auto* s : sessions) {
                        if (loop->sessions.contains(s)) {
                            s->cut_off();
                        }
                    }
                });
            }
            state->report_stopped();
        });
        if (state->open_connections.load(std::memory_order_acquire) == 0) {
            state->report_stopped();
        }
    });
}

}  // namespace svc::http
