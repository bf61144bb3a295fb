#include "db/pg/pool.hpp"

#include <algorithm>
#include <atomic>
#include <list>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "db/error.hpp"
#include "db/pg/connection.hpp"
#include "runtime/event_loops.hpp"

namespace svc::db::pg {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {
double seconds_since(clock::time_point start) {
    return std::chrono::duration<double>(clock::now() - start).count();
}
}  // namespace

// One event loop's share of the pool. Every member is touched only on that loop, except
// the two atomics (read by metrics from any thread) and `closed_` (set by pool::close()).
class slice {
public:
    slice(
        asio::any_io_executor executor,
        std::shared_ptr<const connection_settings> settings,
        std::size_t size,
        std::size_t overflow,
        std::size_t writers
    )
        : executor_(std::move(executor)),
          settings_(std::move(settings)),
          size_(size),
          limit_(size + overflow),
          writer_limit_(writers),
          trim_timer_(executor_) {}
    ~slice() { *alive_ = false; }
    std::shared_ptr<const bool> alive_flag() const { return alive_; }
    slice(const slice&) = delete;
    slice& operator=(const slice&) = delete;

    // `started`: when the caller began waiting; the checkout timeout counts from there.
    asio::awaitable<lease> acquire(clock::time_point started);
    asio::awaitable<lease> acquire_for_writes();
    void give_back(std::unique_ptr<connection> conn) noexcept;
    // A write lease ended: its slot goes to the longest-waiting writer, if any.
    void release_write_slot() noexcept;
    // Runs on the slice's loop: drops idle connections and wakes every waiter.
    void close_on_loop();
    void request_close() {
        closed_.store(true, std::memory_order_relaxed);
        asio::post(executor_, [this] { close_on_loop(); });
    }

    std::atomic<std::size_t> idle_count{0};
    std::atomic<std::size_t> busy_count{0};
    std::atomic<std::size_t> active_writer_count{0};
    std::atomic<std::size_t> waiting_writer_count{0};

private:
    struct idle_connection {
        std::unique_ptr<connection> conn;
        clock::time_point since;  // returned to the slice
    };

    // A coroutine waiting in acquire(); lives on that coroutine's frame.
    struct waiter {
        asio::steady_timer timer;
        std::unique_ptr<connection> handed;  // a connection given straight to this waiter
        bool may_connect = false;            // a slot freed up: the waiter may open a connection
    };
    // A coroutine waiting in admit_writer(); lives on that coroutine's frame.
    struct writer_waiter {
        asio::steady_timer timer;
        bool admitted = false;  // release_write_slot() handed its slot to this waiter
    };

    void publish_counts() {
        idle_count.store(idle_.size(), std::memory_order_relaxed);
        busy_count.store(total_ - idle_.size(), std::memory_order_relaxed);
        if (settings_->observer && settings_->observer->connections_changed) {
            settings_->observer->connections_changed();
        }
    }
    void publish_writers() {
        active_writer_count.store(writers_, std::memory_order_relaxed);
        waiting_writer_count.store(writer_waiters_.size(), std::memory_order_relaxed);
        if (settings_->observer && settings_->observer->writers_changed)
            settings_->observer->writers_changed();
    }
    void drop(std::unique_ptr<connection> conn) noexcept;
    bool expired(const connection& conn) const {
        return clock::now() - conn.created_at() > settings_->options.recycle;
    }
    // Closes the connections beyond the slice's share that have been idle for the overflow
    // idle timeout, and arms the timer for the next one to expire.
    void trim_idle();
    void arm_trim_timer();
    // Connects (counting the connection in total_ meanwhile), with backoff bookkeeping.
    asio::awaitable<std::unique_ptr<connection>> open_connection();
    // Makes `conn` ready for a lease: resets it when it saw an error. Returns null (and drops
    // it) when it is broken, too old or fails the reset.
    asio::awaitable<std::unique_ptr<connection>> validate(std::unique_ptr<connection> conn);
    // Takes one of the writer_limit_ slots, queueing until `deadline` (then pool_timeout).
    asio::awaitable<void> admit_writer(clock::time_point deadline);
    void observe_wait(clock::time_point started) const {
        if (settings_->observer && settings_->observer->checkout_wait) {
            settings_->observer->checkout_wait(seconds_since(started));
        }
    }

    asio::any_io_executor executor_;
    std::shared_ptr<const connection_settings> settings_;
    const std::size_t size_;          // idle connections kept
    const std::size_t limit_;         // size_ + overflow: connections open at most (idle + busy + connecting)
    const std::size_t writer_limit_;  // write leases out at once; 0: no limit
    std::size_t writers_ = 0;         // write slots taken (leases out, or being acquired)
    std::list<writer_waiter*> writer_waiters_;  // FIFO
    // LIFO: back() is the warmest connection, front() the one idle longest (trimmed first).
    std::vector<idle_connection> idle_;
    asio::steady_timer trim_timer_;
    bool trim_armed_ = false;
    // False once the slice is gone: a trim completion already queued must not touch it.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::size_t total_ = 0;
    std::list<waiter*> waiters_;  // FIFO
    int consecutive_failures_ = 0;
    clock::time_point next_attempt_{};  // no new connection before this, after a failure
    std::atomic<bool> closed_{false};
};

void slice::drop(std::unique_ptr<connection> conn) noexcept {
    conn.reset();
    --total_;
    // The freed slot goes to the longest waiter, which opens a connection itself.
    if (!waiters_.empty()) {
        waiter* w = waiters_.front();
        waiters_.pop_front();
        w->may_connect = true;
        w->timer.cancel();
    }
    publish_counts();
}

void slice::give_back(std::unique_ptr<connection> conn) noexcept {
    if (conn->broken()) {
        // One dead connection suggests the server restarted: check the others before use.
        for (auto& idle : idle_) idle.conn->mark_needs_reset();
        drop(std::move(conn));
        return;
    }
    if (closed_.load(std::memory_order_relaxed) || expired(*conn)) {
        drop(std::move(conn));
        return;
    }
    if (conn->in_transaction()) conn->mark_needs_reset();  // rolled back before its next use
    if (!waiters_.empty()) {
        waiter* w = waiters_.front();
        waiters_.pop_front();
        w->handed = std::move(conn);
        w->timer.cancel();
        publish_counts();
        return;
    }
    // Beyond the slice's share, an idle connection stays open for the overflow idle timeout
    // before trim_idle() closes it. Closing it at once (SQLAlchemy's QueuePool) makes a
    // saturated pool open and close a connection — a server process — for almost every
    // request as the queue empties and refills (measured: ~225 connections/s, 2.7x fewer rps).
    idle_.push_back({std::move(conn), clock::now()});
    if (idle_.size() > size_) arm_trim_timer();
    publish_counts();
}

void slice::trim_idle() {
    if (!waiters_.empty()) return;  // not while anyone queues: give_back() serves them first
    const auto now = clock::now();
    const auto timeout = settings_->options.overflow_idle_timeout;
    std::size_t expired_count = 0;
    while (idle_.size() - expired_count > size_ && now - idle_[expired_count].since >= timeout) {
        ++expired_count;
    }
    if (expired_count > 0) {
        idle_.erase(idle_.begin(), idle_.begin() + static_cast<std::ptrdiff_t>(expired_count));
        total_ -= expired_count;
        publish_counts();
    }
    if (idle_.size() > size_) arm_trim_timer();
}

void slice::arm_trim_timer() {
    if (trim_armed_) return;
    trim_armed_ = true;
    trim_timer_.expires_at(idle_.front().since + settings_->options.overflow_idle_timeout);
    trim_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
        if (!*alive) return;
        trim_armed_ = false;
        if (ec || closed_.load(std::memory_order_relaxed)) return;
        trim_idle();
    });
}

void slice::close_on_loop() {
    while (!idle_.empty()) {
        idle_.pop_back();
        --total_;
    }
    trim_timer_.cancel();
    for (waiter* w : waiters_) w->timer.cancel();
    waiters_.clear();
    for (writer_waiter* w : writer_waiters_) w->timer.cancel();
    writer_waiters_.clear();
    publish_counts();
    publish_writers();
}

asio::awaitable<std::unique_ptr<connection>> slice::open_connection() {
    const auto now = clock::now();
    if (consecutive_failures_ > 0 && now < next_attempt_) {
        throw db::error(
            errc::connection_lost, "cannot connect to " + settings_->redacted_url + " (backing off)"
        );
    }
    ++total_;
    publish_counts();
    try {
        auto conn = co_await connection::connect(executor_, settings_);
        if (consecutive_failures_ > 0) spdlog::info("database: reconnected to {}", settings_->redacted_url);
        consecutive_failures_ = 0;
        co_return conn;
    } catch (const db::error& e) {
        --total_;
        ++consecutive_failures_;
        // 50 ms, 100 ms, … capped at 1 s between attempts while the server is unreachable, so a
        // loop reconnects at most 1 s after the server is back.
        const auto backoff = std::min<std::chrono::milliseconds>(
            std::chrono::milliseconds(50) * (1 << std::min(consecutive_failures_ - 1, 6)),
            std::chrono::milliseconds(1000)
        );
        next_attempt_ = clock::now() + backoff;
        if (consecutive_failures_ == 1) spdlog::warn("database: {}", e.what());
        publish_counts();
        throw;
    }
}

asio::awaitable<std::unique_ptr<connection>> slice::validate(std::unique_ptr<connection> conn) {
    if (conn->broken() || expired(*conn)) {
        drop(std::move(conn));
        co_return nullptr;
    }
    if (conn->needs_reset()) {
        try {
            co_await conn->reset();
        } catch (const db::error&) {
            drop(std::move(conn));
            co_return nullptr;
        }
    }
    co_return conn;
}

asio::awaitable<lease> slice::acquire(clock::time_point started) {
    const auto deadline = started + settings_->options.checkout_timeout;
    while (true) {
        if (closed_.load(std::memory_order_relaxed))
            throw db::error(errc::shutting_down, "the pool is closed");
        // Idle connections go to new callers only when nobody queues (waiters are served first
        // by give_back()).
        if (!idle_.empty() && waiters_.empty()) {
            auto conn = std::move(idle_.back().conn);
            idle_.pop_back();
            publish_counts();
            conn = co_await validate(std::move(conn));
            if (!conn) continue;
            observe_wait(started);
            co_return lease(this, std::move(conn));
        }
        if (total_ < limit_ && waiters_.empty()) {
            auto conn = co_await open_connection();
            observe_wait(started);
            co_return lease(this, std::move(conn));
        }
        const auto now = clock::now();
        if (now >= deadline) {
            observe_wait(started);
            throw db::error(errc::pool_timeout, "no database connection free within the pool timeout");
        }
        waiter w{asio::steady_timer(executor_), nullptr, false};
        w.timer.expires_at(deadline);
        waiters_.push_back(&w);
        co_await w.timer.async_wait(asio::as_tuple(asio::use_awaitable));
        // Still queued: the timer expired (or the pool closed); otherwise give_back/drop
        // removed us and said why.
        if (auto it = std::find(waiters_.begin(), waiters_.end(), &w); it != waiters_.end())
            waiters_.erase(it);
        if (w.handed) {
            auto conn = co_await validate(std::move(w.handed));
            if (!conn) continue;
            observe_wait(started);
            co_return lease(this, std::move(conn));
        }
        if (w.may_connect && total_ < limit_) {
            auto conn = co_await open_connection();
            observe_wait(started);
            co_return lease(this, std::move(conn));
        }
        // Cancelled by the caller (e.g. a race against its own deadline): stop waiting.
        if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none) {
            observe_wait(started);
            throw db::error(errc::pool_timeout, "the checkout was cancelled");
        }
        // Loop: re-checks closed_, the deadline, and anything freed meanwhile.
    }
}

asio::awaitable<void> slice::admit_writer(clock::time_point deadline) {
    if (closed_.load(std::memory_order_relaxed)) throw db::error(errc::shutting_down, "the pool is closed");
    if (writers_ < writer_limit_ && writer_waiters_.empty()) {
        ++writers_;
        publish_writers();
        co_return;
    }
    writer_waiter w{asio::steady_timer(executor_), false};
    w.timer.expires_at(deadline);
    writer_waiters_.push_back(&w);
    publish_writers();
    co_await w.timer.async_wait(asio::as_tuple(asio::use_awaitable));
    // Admitted even if the timer fired meanwhile: the slot is ours, counted by the releaser.
    if (w.admitted) co_return;
    if (auto it = std::find(writer_waiters_.begin(), writer_waiters_.end(), &w);
        it != writer_waiters_.end()) {
        writer_waiters_.erase(it);
        publish_writers();
    }
    if (closed_.load(std::memory_order_relaxed)) throw db::error(errc::shutting_down, "the pool is closed");
    if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
        throw db::error(errc::pool_timeout, "the checkout was cancelled");
    throw db::error(errc::pool_timeout, "no write slot free within the pool timeout");
}

void slice::release_write_slot() noexcept {
    if (writer_waiters_.empty()) {
        --writers_;
    } else {
        writer_waiter* w = writer_waiters_.front();
        writer_waiters_.pop_front();
        w->admitted = true;
        w->timer.cancel();
    }
    publish_writers();
}

asio::awaitable<lease> slice::acquire_for_writes() {
    const auto started = clock::now();
    if (writer_limit_ == 0) co_return co_await acquire(started);
    try {
        co_await admit_writer(started + settings_->options.checkout_timeout);
    } catch (const db::error&) {
        observe_wait(started);
        throw;
    }
    try {
        lease writer = co_await acquire(started);
        writer.holds_write_slot_ = true;  // nothing below throws: the lease now frees the slot
        co_return writer;
    } catch (...) {
        release_write_slot();
        throw;
    }
}

// ---- lease ----

lease::lease(slice* owner, std::unique_ptr<connection> conn)
    : owner_(owner), owner_alive_(owner->alive_flag()), connection_(std::move(conn)) {}

lease::lease(lease&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      owner_alive_(std::move(other.owner_alive_)),
      connection_(std::move(other.connection_)),
      holds_write_slot_(std::exchange(other.holds_write_slot_, false)) {}

lease& lease::operator=(lease&& other) noexcept {
    if (this != &other) {
        release();
        owner_ = std::exchange(other.owner_, nullptr);
        owner_alive_ = std::move(other.owner_alive_);
        connection_ = std::move(other.connection_);
        holds_write_slot_ = std::exchange(other.holds_write_slot_, false);
    }
    return *this;
}

lease::~lease() {
    release();
}

void lease::release() noexcept {
    if (owner_ == nullptr) return;
    if (!*owner_alive_) {
        connection_.reset();
    } else {
        // The connection first: the writer admitted next may then find it idle.
        if (connection_) owner_->give_back(std::move(connection_));
        if (holds_write_slot_) owner_->release_write_slot();
    }
    owner_ = nullptr;
    owner_alive_.reset();
    holds_write_slot_ = false;
}

asio::awaitable<result> lease::execute_params(std::string_view sql, params args) {
    if (!connection_) throw std::logic_error("pg::lease: used after move");
    const query q{sql, std::move(args)};
    auto results = co_await connection_->run(std::span(&q, 1));
    co_return std::move(results.front());
}

asio::awaitable<std::vector<result>> lease::pipeline(std::vector<query> queries) {
    if (!connection_) throw std::logic_error("pg::lease: used after move");
    co_return co_await connection_->run(queries);
}

asio::awaitable<void> lease::pipeline_into(std::vector<query> queries, std::vector<result>& results) {
    if (!connection_) throw std::logic_error("pg::lease: used after move");
    co_await connection_->run_into(queries, results);
}

bool lease::timed_out() const {
    return connection_ && connection_->timed_out();
}

asio::awaitable<std::vector<result>> lease::transaction(
    std::vector<query> queries, std::string_view begin_sql
) {
    if (!connection_) throw std::logic_error("pg::lease: used after move");
    std::vector<query> all;
    all.reserve(queries.size() + 2);
    all.push_back({begin_sql, {}});
    for (auto& q : queries) all.push_back(std::move(q));
    all.push_back({"COMMIT", {}});
    std::vector<result> results;
    try {
        results = co_await connection_->run(all);
    } catch (const db::error& e) {
        // Report the index within `queries`: BEGIN is statement -1, COMMIT is queries.size().
        throw e.with_statement_index(e.statement_index() < 0 ? -1 : e.statement_index() - 1);
    }
    results.erase(results.begin());
    results.pop_back();
    co_return results;
}

// ---- pool ----

pool::pool(runtime::event_loops& loops, std::string conninfo, std::string redacted_url, pool_options options)
    : options_(options), observer_(std::make_shared<pool_observer>()) {
    if (options_.pool_size == 0) throw std::invalid_argument("DB_POOL_SIZE must be at least 1");
    auto settings = std::make_shared<connection_settings>(connection_settings{
        std::move(conninfo), std::move(redacted_url), options_, observer_});
    const std::size_t loop_count = loops.size();
    const auto share = [loop_count](std::size_t total) { return (total + loop_count - 1) / loop_count; };
    for (std::size_t i = 0; i < loop_count; ++i) {
        slices_.push_back(std::make_unique<slice>(
            loops.context(i).get_executor(),
            settings,
            std::max<std::size_t>(share(options_.pool_size), 1),
            share(options_.max_overflow),
            share(options_.max_writers)
        ));
    }
}

pool::~pool() = default;

slice& pool::current_slice(std::string_view caller) const {
    const std::size_t index = runtime::event_loops::current_index();
    if (index >= slices_.size()) {
        throw std::logic_error("pg::pool::" + std::string(caller) + " called off an event loop");
    }
    return *slices_[index];
}

asio::awaitable<lease> pool::acquire() {
    co_return co_await current_slice("acquire").acquire(clock::now());
}

asio::awaitable<lease> pool::acquire_for_writes() {
    co_return co_await current_slice("acquire_for_writes").acquire_for_writes();
}

asio::awaitable<void> pool::ping() {
    auto l = co_await acquire();
    co_await l.execute("SELECT 1");
}

void pool::close() {
    for (auto& s : slices_) s->request_close();
}

namespace {
// One of the slices' published counters, summed over every slice.
std::size_t sum_over(
    const std::vector<std::unique_ptr<slice>>& slices, std::atomic<std::size_t> slice::*counter
) {
    std::size_t n = 0;
    for (const auto& s : slices) n += ((*s).*counter).load(std::memory_order_relaxed);
    return n;
}
}  // namespace

std::size_t pool::idle_connections() const {
    return sum_over(slices_, &slice::idle_count);
}

std::size_t pool::busy_connections() const {
    return sum_over(slices_, &slice::busy_count);
}

std::size_t pool::active_writers() const {
    return sum_over(slices_, &slice::active_writer_count);
}

std::size_t pool::waiting_writers() const {
    return sum_over(slices_, &slice::waiting_writer_count);
}

void pool::set_observer(pool_observer observer) {
    // The settings hold a pointer to the same object: replace its contents before first use.
    *observer_ = std::move(observer);
}

}  // namespace svc::db::pg
