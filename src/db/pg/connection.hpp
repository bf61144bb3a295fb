#pragma once
// One PostgreSQL connection: a thin wrapper over libpq in non-blocking pipeline mode, its
// socket held in an asio::posix::stream_descriptor (release()d before PQfinish, which closes
// it) and awaited on the owning event loop. Internal to src/db/pg: stores use pg::lease.
//
// Thread: all members run on the event loop that created the connection.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "db/pg/param.hpp"
#include "db/pg/pool.hpp"
#include "db/pg/result.hpp"

struct pg_conn;  // libpq's PGconn

namespace svc::db::pg {

// What every connection of a pool shares; immutable after the pool is built.
struct connection_settings {
    std::string conninfo;
    std::string redacted_url;
    pool_options options;
    std::shared_ptr<const pool_observer> observer;
};

class connection {
public:
    using clock = std::chrono::steady_clock;

    // Connects without blocking the loop, within options.connect_timeout, enters pipeline
    // mode and applies the statement timeout. Throws db::error(connection_lost) with a
    // redacted message.
    static boost::asio::awaitable<std::unique_ptr<connection>> connect(
        boost::asio::any_io_executor executor, std::shared_ptr<const connection_settings> settings
    );

    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Sends `queries` and one sync in a single round trip; returns one result per query.
    // Throws db::error for the first failing query (after rolling back an aborted
    // transaction) or connection_lost (then broken() is true).
    boost::asio::awaitable<std::vector<result>> run(std::span<const query> queries);
    // run() that appends each query's result to `results` as it arrives, so that after a
    // failure `results` holds those of the queries before the failing one, when they arrived
    // (results[i] belongs to queries[i]).
    boost::asio::awaitable<void> run_into(std::span<const query> queries, std::vector<result>& results);

    // Before reuse after an error or a lease returned inside a transaction: ROLLBACK if a
    // transaction is open, else SELECT 1. Throws like run().
    boost::asio::awaitable<void> reset();

    bool broken() const { return broken_; }
    // The last round trip was cut off because the server did not answer within its bound
    // (rather than because the server closed or reset the connection).
    bool timed_out() const { return timed_out_; }
    bool needs_reset() const { return needs_reset_; }
    void mark_needs_reset() { needs_reset_ = true; }
    bool in_transaction() const;
    clock::time_point created_at() const { return created_at_; }

private:
    struct watchdog_state;
    connection(
        const boost::asio::any_io_executor& executor, std::shared_ptr<const connection_settings> settings
    );

    boost::asio::awaitable<void> wait(bool for_write);
    boost::asio::awaitable<void> flush();
    boost::asio::awaitable<pg_result*> next_result();
    // run() without metrics or needs_reset bookkeeping; `allow_prepared` false for the
    // connection's own statements (SET, ROLLBACK, SELECT 1), which are never cached.
    boost::asio::awaitable<void> run_unchecked(
        std::span<const query> queries, bool allow_prepared, std::vector<result>& results
    );
    // Starts the round-trip bound for `statements` statements.
    void begin_io(std::size_t statements);
    void end_io() { io_active_ = false; }
    void arm_watchdog();
    [[noreturn]] void fail_connection(const std::string& what);
    // fail_connection() with libpq's message: "<doing> <server>: <message>".
    [[noreturn]] void fail_libpq(std::string_view doing);
    void assign_socket();

    std::shared_ptr<const connection_settings> settings_;
    pg_conn* conn_ = nullptr;
    boost::asio::posix::stream_descriptor socket_;
    // One timer per connection bounds every round trip: it fires at most once per io_timeout
    // and re-arms itself to the current deadline, so a query arms no timer of its own.
    boost::asio::steady_timer watchdog_;
    std::shared_ptr<watchdog_state> watchdog_state_;
    bool watchdog_armed_ = false;
    bool io_active_ = false;
    bool timed_out_ = false;
    clock::time_point deadline_{};
    clock::time_point created_at_ = clock::now();
    bool broken_ = false;
    bool needs_reset_ = false;
    // The session's plan_cache_mode as this connection last set it; unknown (nullopt) after
    // connecting (a role or database may set its own) and while a SET may yet roll back.
    std::optional<plan_mode> session_plan_;
    // Prepared statement names by SQL text; a name is valid once its Parse succeeded.
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, std::string, string_hash, std::equal_to<>> prepared_;
    std::uint64_t next_statement_id_ = 0;
};

}  // namespace svc::db::pg
