#pragma once
// The PostgreSQL connection pool: one slice per event loop (runtime::event_loops), so a
// checkout, a query and a return touch only the calling loop's objects — no locks.
//
// Sizing: `pool_size` and `max_overflow` are process totals; loop i's slice gets
// ceil(total / loops) of each (at least one connection per loop). A slice keeps up to its
// share of `pool_size` idle connections; overflow connections are opened under load and
// closed once more than that share has been idle for `overflow_idle_timeout` (unlike
// SQLAlchemy's QueuePool, which closes them on return and so churns server processes when
// the pool is saturated).
//
// Write admission: at most `max_writers` leases from acquire_for_writes() are out at once
// (a process total, split like the others); further writers queue, first come first served.
// Past a few concurrent transactions on the same rows, PostgreSQL spends its cores on lock
// waits and process switches instead of commits. Measured on the create_order benchmark
// (2 cores, 64 clients, docs/BENCHMARKS.md): 30 writers (the whole default pool) cost
// 0.37–0.49 ms of server CPU per order with a p99 of 30–38 ms; 8 writers 0.31–0.35 ms, more
// orders per second and a p99 of 26–29 ms. Readers are not limited.
//
// Usage (on an event loop thread, from a coroutine):
//     auto lease = co_await pool.acquire();   // throws db::error{pool_timeout | connection_lost}
//     auto writer = co_await pool.acquire_for_writes();  // a transaction that locks rows
//     pg::result r = co_await lease.execute(k_select_product, product_id);
//     auto results = co_await lease.transaction(pg::stmt(k_decrement_stock, id, qty),
//                                               pg::stmt(k_insert_order, order_id, user_id));
//     // … one round trip for the whole transaction.
//
// Failures throw db::error (see db/error.hpp). A lease whose connection broke is dropped on
// return and replaced by a fresh connection later; a connection that saw an error, or is
// returned inside an open transaction, is rolled back and pinged before its next use.

#include <chrono>
#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "db/pg/param.hpp"
#include "db/pg/result.hpp"

namespace svc::runtime {
class event_loops;
}

namespace svc::db::pg {

struct pool_options {
    std::size_t pool_size = 20;                        // process total, split among loops
    std::size_t max_overflow = 10;                     // process total, split among loops
    std::chrono::seconds recycle{3600};                // close connections older than this on return
    std::chrono::milliseconds checkout_timeout{5000};  // wait for a free connection → pool_timeout
    std::chrono::milliseconds connect_timeout{5000};   // one connection attempt
    std::chrono::milliseconds statement_timeout{0};    // server-side statement_timeout; 0 = none
    // Client-side bound on one round trip (a dead peer that keeps the TCP connection open must
    // not hang a request forever). A round trip of n statements waits at least
    // n × statement_timeout + 1 s: the server must always end a slow statement first.
    std::chrono::milliseconds io_timeout{30000};
    bool prepared_statements = true;  // false: unnamed statements only (PgBouncer transaction mode)
    // The server has plan_cache_mode (PostgreSQL 12+): a query marked plan_mode::generic
    // (one whose plan does not depend on its parameters) runs under force_generic_plan, set
    // on the connection when the mode changes. Off for a compatible engine without it.
    bool generic_plans = true;
    // A connection beyond the slice's share of pool_size closes after being idle this long.
    std::chrono::milliseconds overflow_idle_timeout{30000};
    // acquire_for_writes() leases out at once (process total, split among loops); 0: no limit
    // beyond the pool's own.
    std::size_t max_writers = 8;
};

// Hooks for metrics; called on the loop thread that did the work. Unset hooks cost nothing.
struct pool_observer {
    std::function<void(double seconds)> checkout_wait;  // db_pool_wait_seconds
    std::function<void(double seconds)> query;          // db_query_duration_seconds (per round trip)
    // The idle/busy counts changed (read them with idle_connections()/busy_connections()).
    std::function<void()> connections_changed;  // db_pool_connections{state}
    // The write-slot counts changed (active_writers()/waiting_writers()).
    std::function<void()> writers_changed;  // db_write_transactions{state}
};

class connection;
class pool;
class slice;

// Exclusive use of one connection until destroyed. Movable, not copyable. Must be used and
// destroyed on the event loop that acquired it. A lease is one "session": statements run in
// the order awaited; the caller must co_await each call before starting the next.
class lease {
public:
    lease(lease&& other) noexcept;
    lease& operator=(lease&& other) noexcept;
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease();

    // Runs one statement (prepared once per connection and cached by SQL text, unless
    // prepared statements are off) with `args` as $1, $2, … (anything a pg::param is built
    // from: integers, bool, text, timestamp, optional, text/int8 vectors, nullptr).
    // `sql` must stay valid until the call completes (use the store's named constants).
    //     auto r = co_await lease.execute(k_select_product, product_id);
    // Arguments are passed as a pack, not a braced list: GCC 12 cannot compile an
    // initializer_list inside a co_await expression ("array used as initializer").
    template <typename... Args>
    requires(std::constructible_from<param, Args&&>&&...
    ) boost::asio::awaitable<result> execute(std::string_view sql, Args&&... args) {
        return execute_params(sql, make_params(std::forward<Args>(args)...));
    }
    // execute() with a parameter list built beforehand.
    boost::asio::awaitable<result> execute_params(std::string_view sql, params args);

    // Sends every statement, then one sync, in a single round trip, and returns one result
    // per statement, in order. Statements between syncs form one implicit transaction, so
    // the pipeline is atomic even without BEGIN/COMMIT. On the first failing statement the
    // rest are skipped by the server, the work is rolled back (also an explicit BEGIN
    // inside the pipeline) and db::error is thrown with statement_index() set.
    //     auto rs = co_await lease.pipeline(pg::stmt(k_a, id), pg::stmt(k_b, id, qty));
    boost::asio::awaitable<std::vector<result>> pipeline(std::vector<query> queries);
    template <typename... Queries>
    requires(sizeof...(Queries) > 0 && (std::same_as<std::remove_cvref_t<Queries>, query> && ...))
        boost::asio::awaitable<std::vector<result>> pipeline(Queries&&... queries) {
        return pipeline(make_queries(std::forward<Queries>(queries)...));
    }

    // pipeline() that appends each statement's result to `results` as it arrives: after a
    // failure, `results` holds those of the statements before the failing one that arrived
    // (results[i] belongs to queries[i]). For callers that must know how far the server got.
    boost::asio::awaitable<void> pipeline_into(std::vector<query> queries, std::vector<result>& results);

    // The last round trip failed because the server did not answer within its bound (the
    // client gave up; the server may still be working), not because the connection closed.
    bool timed_out() const;

    // pipeline({begin_sql, queries..., "COMMIT"}): an explicit transaction in one round
    // trip. Returns the queries' results only (not BEGIN's or COMMIT's); statement_index()
    // of an error counts `queries`. `begin_sql` may set the isolation level, e.g.
    // "BEGIN ISOLATION LEVEL SERIALIZABLE"; it must be a constant.
    boost::asio::awaitable<std::vector<result>> transaction(
        std::vector<query> queries, std::string_view begin_sql = "BEGIN"
    );
    template <typename... Queries>
    requires(sizeof...(Queries) > 0 && (std::same_as<std::remove_cvref_t<Queries>, query> && ...))
        boost::asio::awaitable<std::vector<result>> transaction(Queries&&... queries) {
        return transaction(make_queries(std::forward<Queries>(queries)...), "BEGIN");
    }

private:
    friend class slice;
    lease(slice* owner, std::unique_ptr<connection> conn);
    void release() noexcept;
    template <typename... Args>
    static params make_params(Args&&... args) {
        params out;
        out.reserve(sizeof...(Args));
        (out.emplace_back(std::forward<Args>(args)), ...);
        return out;
    }
    template <typename... Queries>
    static std::vector<query> make_queries(Queries&&... queries) {
        std::vector<query> out;
        out.reserve(sizeof...(Queries));
        (out.push_back(std::forward<Queries>(queries)), ...);
        return out;
    }

    slice* owner_ = nullptr;
    // False once owner_ is destroyed. A lease can outlive its pool: a coroutine cut off at
    // shutdown stays suspended with its lease until the event loops are destroyed, after
    // the pool. Such a lease only closes its connection.
    std::shared_ptr<const bool> owner_alive_;
    std::unique_ptr<connection> connection_;
    bool holds_write_slot_ = false;  // from acquire_for_writes(): the slot is freed on release
};

class pool {
public:
    // Opens no connection yet (the first checkouts do). `conninfo` is any libpq URI;
    // `redacted_url` is the loggable form. `loops` must outlive the pool; destroy the pool
    // after the loops have stopped running (or from the loops themselves after close()).
    pool(runtime::event_loops& loops, std::string conninfo, std::string redacted_url, pool_options options);
    ~pool();
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;

    // A connection from the calling loop's slice: an idle one (pinged first if it saw an
    // error), a new one if the slice is below pool_size + max_overflow, or the first one
    // returned within checkout_timeout. Throws db::error: pool_timeout (waited too long),
    // connection_lost (cannot connect; after a failure, new attempts back off from 50 ms
    // to 1 s and fail fast meanwhile), shutting_down (after close()).
    // Must be called on an event loop thread (std::logic_error otherwise).
    boost::asio::awaitable<lease> acquire();

    // acquire() for a transaction that takes row locks: first waits, first come first served,
    // until fewer than the slice's share of max_writers such leases are out — within the same
    // checkout_timeout, which covers both waits (pool_timeout after it).
    boost::asio::awaitable<lease> acquire_for_writes();

    // Round trip "SELECT 1" on a pooled connection (for /ready). Throws db::error.
    boost::asio::awaitable<void> ping();

    // Refuses new checkouts (shutting_down) and closes idle connections of every slice;
    // leases out close their connection when returned. Thread-safe, idempotent.
    void close();

    // Current totals over all slices, for db_pool_connections{state}. Thread-safe.
    std::size_t idle_connections() const;
    std::size_t busy_connections() const;
    // Write slots taken (acquire_for_writes() leases out or being connected) and writers
    // queued for one, over all slices, for db_write_transactions{state}. Thread-safe.
    std::size_t active_writers() const;
    std::size_t waiting_writers() const;

    // Set before the first acquire().
    void set_observer(pool_observer observer);

    const pool_options& options() const { return options_; }

private:
    // The calling loop's slice; std::logic_error (naming `caller`) off an event loop.
    slice& current_slice(std::string_view caller) const;

    pool_options options_;
    std::vector<std::unique_ptr<slice>> slices_;
    std::shared_ptr<pool_observer> observer_;  // shared with every connection; written only before use
};

}  // namespace svc::db::pg
