#pragma once
// SQLite, the embedded default backend. sqlite3 calls block, so they never run on an event
// loop: `database::read(fn)` / `write(fn)` run `fn(connection&)` on a small dedicated thread
// pool and resume the awaiting coroutine on its own executor (its event loop).
//
// Threads and connections: one writer thread owns the only writer connection (writes are
// serialised by construction, so writers never meet SQLITE_BUSY from each other); `readers`
// threads each take a reader connection (WAL: readers never block the writer, nor it them).
// Every connection: journal_mode=WAL, synchronous=NORMAL, foreign_keys=ON, busy_timeout.
//
// Usage:
//     auto product = co_await db.read([id](sqlite::connection& c) {
//         auto s = c.prepare(k_select_product);
//         s.bind(1, id);
//         return s.step() ? std::optional{to_product(s)} : std::nullopt;
//     });
//     co_await db.write([order](sqlite::connection& c) {
//         sqlite::transaction tx(c);          // BEGIN IMMEDIATE
//         ...
//         tx.commit();
//     });
// `fn` is moved to the worker and runs there: capture by value. Exceptions thrown by `fn`
// (db::error, or anything else) are rethrown in the awaiting coroutine.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

struct sqlite3;
struct sqlite3_stmt;

namespace svc::db::sqlite {

// A handle on a cached prepared statement. Resets the statement and clears its bindings
// when destroyed, so the next prepare() of the same SQL starts clean. Parameters and
// columns are numbered as sqlite3 does: bind() from 1, column getters from 0.
// Not re-entrant: do not hold two handles on the same SQL text at once.
class statement {
public:
    explicit statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
    statement(statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
    statement& operator=(statement&&) = delete;
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    ~statement();

    statement& bind(int index, std::int64_t value);
    statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
    statement& bind(int index, std::string_view value);  // copied by sqlite (SQLITE_TRANSIENT)
    statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
    statement& bind(int index, std::nullptr_t);
    template <typename T>
    statement& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bind(index, nullptr);
    }

    // Advances: true when a row is available, false when the statement is done.
    // Throws db::error (unique_violation, check_violation, busy, …).
    bool step();
    // step() for statements without rows; returns sqlite3_changes() of the connection.
    std::int64_t run();
    void reset();

    bool is_null(int column) const;
    std::int64_t column_int64(int column) const;
    std::string_view column_text_view(int column) const;  // valid until the next step/reset
    std::string column_text(int column) const { return std::string(column_text_view(column)); }
    int column_count() const;

private:
    sqlite3_stmt* stmt_;
};

// One sqlite3 connection. Used by one thread at a time (the worker running `fn`).
class connection {
public:
    // Opens `path`; a writer (not `read_only`) first creates a missing file with mode 0600 and
    // its missing directories with mode 0700, so the orders are not readable by other local
    // users (the -wal and -shm files take the file's mode). Throws db::error (connection_lost).
    connection(const std::string& path, bool read_only, std::chrono::milliseconds busy_timeout);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // The statement for `sql`, compiled on first use and cached for the connection's life.
    statement prepare(std::string_view sql);
    // Runs `sql` (any number of statements, no results). Throws db::error.
    void exec(std::string_view sql);
    std::int64_t changes() const;
    sqlite3* native() const { return db_; }

private:
    sqlite3* db_ = nullptr;
    std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// RAII transaction: BEGIN IMMEDIATE (writers; takes the write lock up front, so a
// transaction never fails half-way on lock upgrade) or BEGIN DEFERRED (readers, for a
// consistent snapshot over several statements). Rolls back unless commit() was called.
class transaction {
public:
    enum class mode { immediate, deferred };
    explicit transaction(connection& conn, mode m = mode::immediate);
    ~transaction();
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;
    void commit();

private:
    connection& conn_;
    bool open_ = true;
};

// Hooks for metrics, called on worker threads (must be thread-safe). Unset hooks cost nothing.
struct database_observer {
    std::function<void(double seconds)> queue_wait;  // submitted → started on a worker
    std::function<void(double seconds)> query;       // fn's run time on the worker
    std::function<void()> connections_changed;       // read busy_connections()/idle_connections()
};

struct database_options {
    std::string path;  // file path, or ":memory:" (then readers see the writer's data only
                       // through the writer: read() also runs on the writer)
    std::size_t readers = 2;
    std::chrono::milliseconds busy_timeout{5000};
};

class database {
public:
    // Opens the writer connection (creating the file, mode 0600) and the reader connections, and
    // starts the worker threads. Throws db::error when the file cannot be opened.
    explicit database(database_options options);
    // Waits for queued work to finish, then closes every connection.
    ~database();
    database(const database&) = delete;
    database& operator=(const database&) = delete;

    // Runs fn(connection&) on a reader thread; the result (or exception) resumes the caller on
    // its own executor. `fn` must not write (reader connections are query_only).
    template <typename Fn>
    auto read(Fn fn) -> boost::asio::awaitable<std::invoke_result_t<Fn&, connection&>> {
        return run_on(true, std::move(fn));
    }
    // Runs fn(connection&) on the writer thread, one call at a time in submission order.
    template <typename Fn>
    auto write(Fn fn) -> boost::asio::awaitable<std::invoke_result_t<Fn&, connection&>> {
        return run_on(false, std::move(fn));
    }

    const database_options& options() const { return options_; }

    // False once the database file at options().path is gone or is another file than the one
    // opened (deleted, or replaced by a restore): writes would then land in an unlinked file
    // and vanish at the next start. The first time it finds that, it logs one error line.
    // Stats the path; thread-safe; true for ":memory:".
    bool file_in_place() const;
    // Whether the file and its directory (where -wal and -shm live) can be written by this
    // process: false on a read-only mount or after a chmod. Thread-safe; true for ":memory:".
    bool writable() const;

    // Connections running a job now / waiting for one (writer + readers). Thread-safe.
    std::size_t busy_connections() const { return busy_.load(std::memory_order_relaxed); }
    std::size_t idle_connections() const { return 1 + readers_.size() - busy_connections(); }

    // Set before the first read()/write().
    void set_observer(database_observer observer) { observer_ = std::move(observer); }

private:
    // The thread pool that runs reads (the writer's when there are no reader connections).
    boost::asio::thread_pool& workers_for(bool reader);
    // The connection for a job on the calling worker: the writer, or a reader out of the free
    // list (there is one per reader thread, so one is always free for the thread asking).
    connection& checkout(bool reader);
    void give_back(bool reader, connection& conn);

    template <typename Fn>
    auto run_on(bool reader, Fn fn) -> boost::asio::awaitable<std::invoke_result_t<Fn&, connection&>>;

    // Before each write, on the writer thread: throws db::error (connection_lost) unless
    // file_in_place().
    void require_file_in_place() const;

    database_options options_;
    std::optional<std::pair<std::uint64_t, std::uint64_t>> file_identity_;  // (st_dev, st_ino) at open
    mutable std::atomic<bool> reported_file_moved_{false};
    std::unique_ptr<connection> writer_;
    std::vector<std::unique_ptr<connection>> readers_;
    std::mutex readers_mutex_;
    std::vector<connection*> free_readers_;  // guarded by readers_mutex_
    std::atomic<std::size_t> busy_{0};
    database_observer observer_;
    boost::asio::thread_pool writer_pool_{1};
    boost::asio::thread_pool readers_pool_;
};

// ---- implementation of the templates ----

template <typename Fn>
auto database::run_on(bool reader, Fn fn) -> boost::asio::awaitable<std::invoke_result_t<Fn&, connection&>> {
    using result_type = std::invoke_result_t<Fn&, connection&>;
    using value_type = std::conditional_t<std::is_void_v<result_type>, std::monostate, result_type>;
    auto initiate = [this, reader](auto handler, Fn work) {
        // Keeps the caller's loop alive until the completion is posted back to it.
        auto guard = boost::asio::make_work_guard(handler);
        const auto submitted = std::chrono::steady_clock::now();
        boost::asio::post(
            workers_for(reader),
            [this,
             reader,
             submitted,
             work = std::move(work),
             handler = std::move(handler),
             guard = std::move(guard)]() mutable {
                std::exception_ptr failure;
                std::optional<value_type> value;
                const auto started = std::chrono::steady_clock::now();
                if (observer_.queue_wait) {
                    observer_.queue_wait(std::chrono::duration<double>(started - submitted).count());
                }
                connection& conn = checkout(reader);
                try {
                    if (!reader) require_file_in_place();
                    if constexpr (std::is_void_v<result_type>) {
                        work(conn);
                        value.emplace();
                    } else {
                        value.emplace(work(conn));
                    }
                } catch (...) {
                    failure = std::current_exception();
                }
                give_back(reader, conn);
                if (observer_.query) {
                    observer_.query(
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()
                    );
                }
                auto executor = guard.get_executor();
                // The guard travels with the completion, so the loop's work count drops on the
                // loop thread itself, never from this worker after the loop moved on.
                boost::asio::post(
                    executor,
                    [handler = std::move(handler),
                     failure = std::move(failure),
                     value = std::move(value),
                     guard = std::move(guard)]() mutable {
                        std::move(handler)(failure, std::move(value));
                        guard.reset();
                    }
                );
            }
        );
    };
    std::optional<value_type> value = co_await boost::asio::async_initiate<
        const boost::asio::use_awaitable_t<>&,
        void(std::exception_ptr, std::optional<value_type>)>(
        initiate, boost::asio::use_awaitable, std::move(fn)
    );
    if constexpr (!std::is_void_v<result_type>) co_return std::move(*value);
}

}  // namespace svc::db::sqlite
