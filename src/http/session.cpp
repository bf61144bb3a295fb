#include "http/session.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include "http/request_id.hpp"
#include "http/target.hpp"
#include "http/wire_format.hpp"
#include "observability/logging.hpp"

namespace svc::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

using clock = std::chrono::steady_clock;

// Expected I/O outcomes (timeouts, resets, limits) come back as error codes, not exceptions.
constexpr auto k_as_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t k_read_chunk = 4096;
constexpr std::size_t k_body_read_chunk = std::size_t{64} * 1024;
// A connection keeps the capacity of its read and write buffers from one request to the next
// (no allocation per request), up to this much; a big body or answer is not held for the rest
// of a keep-alive connection's life. Well above what one body read reserves (a read chunk on
// top of what is buffered), so an ordinary POST never frees and regrows the read buffer.
constexpr std::size_t k_kept_buffer_bytes = 4 * k_body_read_chunk;
// After an early answer (401, 404, 413…) to a request whose body we did not read, the rest of
// the body is read and thrown away for at most this long / this much, so the client sees the
// answer instead of a connection reset.
constexpr auto k_linger_time = std::chrono::seconds(2);
constexpr std::size_t k_linger_bytes = std::size_t{4} * 1024 * 1024;
constexpr std::string_view k_unmatched_route = "unmatched";
// Up to this many empty lines before a request line are ignored (see leading_empty_line).
constexpr int k_ignored_empty_lines = 2;

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

std::string_view status_label(unsigned status, std::array<char, 8>& buffer) {
    const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), status);
    return {buffer.data(), static_cast<std::size_t>(result.ptr - buffer.data())};
}

// Whether `unparsed` — what the parser left of a chunked body's framing — holds a line ended
// by LF alone. CRLFs may legitimately wait there: Beast keeps the CRLF that ends a chunk's data
// until the next size line is complete, and a last chunk until its trailer section is; it
// consumes a CRLF whole, so an LF first in the buffer or after anything but CR is a bare one.
bool has_bare_line_feed(std::string_view unparsed) {
    for (std::size_t at = unparsed.find('\n'); at != std::string_view::npos;
         at = unparsed.find('\n', at + 1)) {
        if (at == 0 || unparsed[at - 1] != '\r') return true;
    }
    return false;
}

// Whether a read failed on the bytes themselves (a parse error Beast reports), rather than on
// the connection (closed, reset, timed out): only then is there someone to answer with a 400.
bool is_malformed_message(const boost::system::error_code& ec) {
    return ec.category() == make_error_code(bhttp::error::bad_target).category() &&
           ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message;
}

std::string_view received(const beast::flat_buffer& buffer) {
    return {static_cast<const char*>(buffer.data().data()), buffer.size()};
}

}  // namespace

// One request/response exchange; lives on serve_one()'s frame, and the members that take it
// by reference are awaited at once.
struct session::exchange {
    request req;
    const parser_type::value_type* beast_request = nullptr;  // null: the headers did not parse
    std::string request_id;
    std::string_view route = k_unmatched_route;
    clock::time_point started;
    bool keep_alive = false;    // what the client asked for (HTTP/1.1 default, Connection)
    bool body_pending = false;  // headers read, body not (yet)
};

session::session(std::shared_ptr<server::shared_state> state, connection_ticket ticket, socket_type socket)
    : state_(std::move(state)),
      ticket_(std::move(ticket)),
      loop_(*ticket_.loop),
      rules_(state_->rules_of(ticket_.listener)),
      stream_(std::move(socket)),
      first_request_deadline_(clock::now() + state_->options.first_request_timeout) {
    loop_.sessions.insert(this);
    metrics().connections.inc();
    boost::system::error_code ec;
    const auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) {
        peer_ = endpoint.address().to_string();
    }
}

session::~session() {
    loop_.sessions.erase(this);
    metrics().connections.dec();
    state_->connection_ended(ticket_);
}

void session::expire_first_request_by(clock::duration timeout) {
    const auto deadline = clock::now() + timeout;
    stream_.expires_at(first_request_ ? std::min(deadline, first_request_deadline_) : deadline);
}

void session::on_drain() {
    if (phase_ != phase::in_flight) {
        stream_.cancel();
    }
}

void session::cut_off() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.cancel();
}

bool session::stays_open_after(const exchange& x) const {
    return x.keep_alive && (!draining() || buffer_.size() > 0);
}

asio::awaitable<void> session::run() {
    const auto& options = state_->options;
    int empty_lines = 0;
    while (true) {
        const auto empty_line = leading_empty_line(received(buffer_));
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
            expire_first_request_by(options.idle_timeout);
            auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(k_read_chunk), k_as_tuple);
            if (ec) {
                if (ec == beast::error::timeout && first_request_) metrics().dropped_slow_clients.inc();
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

    expire_first_request_by(options.header_timeout);
    auto [read_error, header_bytes] =
        co_await bhttp::async_read_header(stream_, buffer_, *parser_, k_as_tuple);
    first_request_ = false;
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
        const bool malformed = is_malformed_message(read_error) && !too_large;
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

    // RFC 9112 §3.2: a server must answer 400 to an HTTP/1.1 request without a Host header, and
    // to any request with more than one.
    if (const auto hosts = beast_request.count(bhttp::field::host);
        hosts > 1 || (hosts == 0 && beast_request.version() >= 11)) {
        co_return co_await reject(
            x, problem_error(400, hosts > 1 ? "More than one Host header" : "Missing Host header").get()
        );
    }

    if (!split_target(req.target, req.path, req.query)) {
        co_return co_await reject(x, problem_error(400, "Malformed request target").get());
    }

    // A declared oversize body is refused before anything else looks at the request.
    if (const auto length = parser_->content_length(); length && *length > options.max_body_bytes) {
        co_return co_await reject(x, problem_error(413, "Request body is larger than the limit").get());
    }

    auto admitted = admit(rules_, {req, x.request_id, rate_limiter::clock::now()});
    if (admitted.matched != nullptr) {
        // One label for every 404 and 405 keeps the series count bounded by the route table.
        x.route = admitted.matched->path_template;
    }
    if (const auto* refusal = std::get_if<problem>(&admitted.verdict)) {
        co_return co_await reject(x, *refusal);
    }
    auto& context = std::get<route_context>(admitted.verdict);

    if (x.body_pending && !co_await read_body(x)) {
        co_return false;
    }

    response res;
    try {
        res = co_await admitted.matched->handler(context);
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

asio::awaitable<bool> session::read_body(exchange& x) {
    const auto& options = state_->options;
    auto& beast_request = parser_->get();
    if (beast_request[bhttp::field::expect] == "100-continue") {
        bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, beast_request.version()};
        stream_.expires_after(options.write_timeout);
        auto [ec, n] = co_await bhttp::async_write(stream_, go_on, k_as_tuple);
        if (ec) {
            co_return false;
        }
    }
    stream_.expires_after(options.body_timeout);
    // Parsed by hand rather than with http::async_read, to see what the parser leaves unparsed:
    // a chunked body's line ended by a bare LF is never completed for Beast, which would wait
    // for a CRLF until the body timeout and then close without an answer.
    boost::system::error_code ec = parse_buffered();
    while (!ec && !parser_->is_done()) {
        if (parser_->chunked() && has_bare_line_feed(received(buffer_))) {
            ec = bhttp::error::bad_chunk;
            break;
        }
        auto [read_error, n] =
            co_await stream_.async_read_some(buffer_.prepare(k_body_read_chunk), k_as_tuple);
        if (read_error) {
            ec = read_error;
            break;
        }
        buffer_.commit(n);
        ec = parse_buffered();
    }
    if (ec == bhttp::error::body_limit) {
        co_return co_await answer_and_close(
            x, problem_error(413, "Request body is larger than the limit").get()
        );
    }
    if (is_malformed_message(ec)) {
        // A chunked body that breaks the framing (`+2c`, `0x2c`, an overflowing size, bare-LF
        // line ends): the client gets a 400 with its request id, the log an access line.
        co_return co_await answer_and_close(x, problem_error(400, "Malformed request body").get());
    }
    if (ec) {
        if (ec == beast::error::timeout) {
            metrics().dropped_slow_clients.inc();
        }
        co_return false;
    }
    x.body_pending = false;
    x.req.body = std::move(beast_request.body());
    co_return true;
}

asio::awaitable<bool> session::reject(exchange& x, const problem& p) {
    if (x.body_pending && !consume_buffered_body(x)) co_return co_await answer_and_close(x, p);
    const bool reuse = stays_open_after(x);
    const bool written = co_await write_response(x, make_problem_response(p), reuse);
    co_return (written && reuse);
}

void session::release_large_buffers() {
    if (write_buffer_.capacity() > k_kept_buffer_bytes) {
        std::string().swap(write_buffer_);
    }
    if (buffer_.capacity() > k_kept_buffer_bytes && buffer_.size() <= k_kept_buffer_bytes) {
        buffer_.shrink_to_fit();
    }
}

boost::system::error_code session::parse_buffered() {
    boost::system::error_code ec;
    while (buffer_.size() > 0 && !parser_->is_done()) {
        const std::size_t used = parser_->put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == bhttp::error::need_more) return {};
        if (ec || used == 0) break;
    }
    return ec;
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
    const response_framing framing{
        .version = x.beast_request != nullptr ? x.beast_request->version() : 11U,
        .keep_alive = keep_alive,
        .is_head = req.method == method::head,
    };
    serialize_response_head(write_buffer_, res, x.request_id, framing);
    const std::array<asio::const_buffer, 2> head_and_body{
        asio::buffer(write_buffer_),
        framing.is_head ? asio::const_buffer() : asio::buffer(res.body),
    };
    stream_.expires_after(state_->options.write_timeout);
    auto [ec, n] = co_await asio::async_write(stream_, head_and_body, k_as_tuple);
    release_large_buffers();

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

asio::awaitable<void> run_session(
    std::shared_ptr<server::shared_state> state, connection_ticket ticket, socket_type socket
) {
    try {
        session s(std::move(state), std::move(ticket), std::move(socket));
        co_await s.run();
    } catch (const std::exception& e) {
        spdlog::error("connection ended by an unexpected exception: {}", e.what());
    }
}

}  // namespace svc::http
