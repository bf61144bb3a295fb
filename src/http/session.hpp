#pragma once
// Internal to the server (server.cpp, session.cpp): one client connection's life — read a
// request with Beast's parser, check its framing and limits, admit it (admission.hpp), read its
// body, run the handler, write the answer (wire_format.hpp); refusals that keep or close the
// connection; draining at shutdown. session.cpp is the only source file that runs Beast's
// request parser.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/rate_policy.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/problem.hpp"
#include "http/server_state.hpp"

namespace svc::http {

// Reads requests one after another (pipelined ones straight from the buffer), answers each in
// order, and closes on error, timeout, `Connection: close`, or shutdown. Lives on the frame of
// its coroutine (run_session) on one loop; every member function runs on that loop's thread.
// While it lives it is in loop.sessions and holds its connection_ticket, given back when it
// ends. A new connection must send its first request's headers within
// options.first_request_timeout of its start; later requests have idle_timeout to begin.
class session {
public:
    // `ticket.loop` is the loop this session runs on.
    session(std::shared_ptr<server::shared_state> state, connection_ticket ticket, socket_type socket);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;
    session(session&&) = delete;
    session& operator=(session&&) = delete;

    // Serves the connection until it closes. Expected I/O outcomes end it quietly.
    boost::asio::awaitable<void> run();

    // Shutdown began: a connection with no request in flight closes now; one with a request
    // in flight finishes it, and any request already received behind it, then closes.
    void on_drain();

    // The grace period is over: close whatever is left.
    void cut_off();

private:
    using stream_type = boost::beast::basic_stream<tcp, executor, boost::beast::unlimited_rate_policy>;
    using parser_type = boost::beast::http::request_parser<boost::beast::http::string_body>;
    enum class phase : std::uint8_t { idle, reading_header, in_flight };
    struct exchange;

    boost::asio::awaitable<bool> serve_one();
    // Reads the body of an admitted request into x.req.body, answering 413 when it grows over
    // the limit. Returns whether the request can go on to its handler.
    boost::asio::awaitable<bool> read_body(exchange& x);
    // Feeds the parser what buffer_ holds, consuming what it parsed. Returns its error, none
    // when it only needs more bytes.
    boost::system::error_code parse_buffered();
    // Answers before the body is read (400, 401, 403, 404, 405, 413, 429): keeping the
    // connection when consume_buffered_body() can, else through answer_and_close(). Returns
    // whether the connection can be reused.
    boost::asio::awaitable<bool> reject(exchange& x, const problem& p);
    // Whether the refused request's body has already arrived whole, in `buffer_` with its
    // header: then it is consumed there — no waiting — and the connection serves the next
    // request. A small body sent with its header (curl, http.client, Go all send it so) thus
    // keeps the client's connection across a 401 or 404.
    bool consume_buffered_body(exchange& x);
    // Answers a request that was not read to its end — with `Connection: close`, then
    // linger() — and returns false: the connection cannot serve another request.
    boost::asio::awaitable<bool> answer_and_close(exchange& x, const problem& p);
    // Writes `res` with the standard headers (`Connection: close` unless `keep_alive`),
    // records metrics and the access log line. Returns whether all of it was written.
    boost::asio::awaitable<bool> write_response(exchange& x, response res, bool keep_alive);
    // Gives back the read and write buffers' memory when a big request or answer grew them.
    void release_large_buffers();
    // Before closing a connection whose request was not read to its end: reads and discards
    // what the client still sends, bounded, so that closing with unread input does not reset
    // the connection and destroy the answer before the client has read it.
    boost::asio::awaitable<void> linger();
    bool draining() const { return state_->is_draining(); }
    // Whether the connection stays open after answering `x`: as the client asked, and once
    // shutdown began only when another request has already arrived behind it (pipelined) —
    // it was received, so it is answered too; then the connection closes.
    bool stays_open_after(const exchange& x) const;

    // The deadline of the next header wait: idle/header timeout, and for the first request
    // no later than first_request_deadline_.
    void expire_first_request_by(std::chrono::steady_clock::duration timeout);

    std::shared_ptr<server::shared_state> state_;
    const connection_ticket ticket_;
    loop_state& loop_;
    const admission_rules& rules_;  // the accepting listener's
    stream_type stream_;
    boost::beast::flat_buffer buffer_;
    std::optional<parser_type> parser_;
    std::string write_buffer_;  // the status line and headers being written; capacity reused
    std::string peer_;
    phase phase_ = phase::idle;
    bool first_request_ = true;  // no request has been read whole yet
    std::chrono::steady_clock::time_point first_request_deadline_;
};

// A named coroutine owning the session by value on its frame (never a capturing lambda): what
// the listener spawns for each accepted connection. Gives `ticket` back when done.
boost::asio::awaitable<void> run_session(
    std::shared_ptr<server::shared_state> state, connection_ticket ticket, socket_type socket
);

}  // namespace svc::http
