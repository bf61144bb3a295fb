#pragma once
// orders::order_store on PostgreSQL (see orders/store.hpp for the contract every method keeps).
//
// Round trips (docs/ORDER_STORES.md): every method is ONE pipeline, i.e. one network round
// trip, except create_order with an Idempotency-Key (two: BEGIN + claim + lock + create, then
// store the rendered body + COMMIT) and the rare retries below.
//
// How correctness under concurrency is obtained, in one place:
// - Lock first, decide next: every writing operation locks what it will change in a first
//   statement — the order row, then products in ascending id order, FOR NO KEY UPDATE — and
//   works in the next statement of the same pipeline. In READ COMMITTED that statement's
//   snapshot is taken after the locks, so plain reads see the rows as they now are. (Locking
//   inside the working statement, in a FOR UPDATE CTE, is not enough: such a CTE runs lazily,
//   and the stock test caught verdicts taken on stale rows.)
// - create_order's working statement decides from the current rows whether every item can be
//   served and only then decrements the stock and inserts the order and its items; a refusal
//   writes nothing, so no savepoint is needed.
// - Idempotency-Key: the claim is a row in idempotency_keys inserted INSIDE the order's
//   transaction (a crash or rollback removes it with the order), plus a transaction-scoped
//   advisory lock on hash(caller, key) taken with pg_try_advisory_xact_lock: a duplicate that
//   finds the lock held answers "in flight" at once instead of waiting on the unique index.
//   Any failure before COMMIT sends ROLLBACK at once (nothing lingers on a pooled connection).
// - Lock order, everywhere: an order row before products, products by ascending id. No
//   transaction holding a product lock ever waits for an order row: no deadlock cycle.
//   Deadlocks and serialization failures are retried anyway (k_max_attempts), then reported
//   as orders::unavailable, like every infrastructure failure (db::error::is_unavailable()).
// - Every write ends in commit() → pg::commit_checked: a connection lost while COMMIT may
//   have run is settled before answering — the write's result if it committed,
//   orders::unavailable if it did not, orders::outcome_unknown if that cannot be told in time.
//
// Threading: methods run on the calling event loop and use that loop's pool slice; the
// store itself holds no mutable state besides an atomic statement counter.

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "db/pg/checked_commit.hpp"
#include "db/pg/pool.hpp"
#include "orders/store.hpp"

namespace svc::db {

class pg_order_store final : public orders::order_store {
public:
    // `pool` must outlive the store. Writes and a user's pages are sent as
    // pg::plan_mode::generic statements (planned once per connection; DB_GENERIC_PLANS).
    explicit pg_order_store(pg::pool& pool) : pool_(pool) {}

    boost::asio::awaitable<std::variant<orders::product, orders::product_exists>> create_product(
        orders::new_product p, orders::timestamp now
    ) override;
    boost::asio::awaitable<std::optional<orders::product>> get_product(std::string id) override;
    boost::asio::awaitable<std::optional<orders::product>> update_product(
        std::string id, orders::product_patch patch, orders::timestamp now
    ) override;
    boost::asio::awaitable<orders::page<orders::product>> list_products(orders::product_query query) override;

    boost::asio::awaitable<orders::create_order_result> create_order(orders::new_order o) override;
    boost::asio::awaitable<std::optional<orders::order>> get_order(std::string id) override;
    boost::asio::awaitable<orders::page<orders::order>> list_orders(orders::order_query query) override;
    boost::asio::awaitable<orders::replace_items_result> replace_items(orders::replace_items_request r
    ) override;
    boost::asio::awaitable<orders::transition_result> transition(orders::transition_request r) override;
    boost::asio::awaitable<std::size_t> purge_idempotency_keys(orders::timestamp created_before) override;

    // SQL statements sent so far by this store (each statement of a pipeline counts once;
    // BEGIN/COMMIT/ROLLBACK count too). For tests that prove a fixed statement count.
    std::uint64_t statements_sent() const { return statements_sent_.load(std::memory_order_relaxed); }

private:
    // Which checkout a method's lease comes from (pg::pool::acquire_for_writes() for the
    // transactions that lock rows, so they queue for a write slot; acquire() otherwise).
    enum class lease_kind : std::uint8_t { any, writer };

    // The one wrapper around every method: checks out a lease of `Kind`, runs
    // (this->*attempt)(lease, args...), retries deadlocks and serialization failures with a new
    // lease up to k_max_attempts in all, and turns db::error into the domain's errors
    // (order_store_support::rethrow_for_domain). `args` live in this coroutine's frame across
    // the attempts; the attempt takes them by const reference.
    template <lease_kind Kind, typename Result, typename... Args>
    boost::asio::awaitable<Result> run(
        boost::asio::awaitable<Result> (pg_order_store::*attempt)(pg::lease&, const Args&...),
        std::type_identity_t<Args>... args
    );

    // One attempt of each method, on the lease run() checked out.
    boost::asio::awaitable<std::variant<orders::product, orders::product_exists>> insert_product(
        pg::lease& lease, const orders::new_product& p, const orders::timestamp& now
    );
    boost::asio::awaitable<std::optional<orders::product>> select_product(
        pg::lease& lease, const std::string& id
    );
    boost::asio::awaitable<std::optional<orders::product>> patch_product(
        pg::lease& lease,
        const std::string& id,
        const orders::product_patch& patch,
        const orders::timestamp& now
    );
    boost::asio::awaitable<orders::page<orders::product>> select_products(
        pg::lease& lease, const orders::product_query& query
    );
    boost::asio::awaitable<orders::create_order_result> create_order_once(
        pg::lease& lease, const orders::new_order& o
    );
    boost::asio::awaitable<std::optional<orders::order>> select_order(
        pg::lease& lease, const std::string& id
    );
    boost::asio::awaitable<orders::page<orders::order>> select_orders(
        pg::lease& lease, const orders::order_query& query
    );
    boost::asio::awaitable<orders::replace_items_result> replace_items_once(
        pg::lease& lease, const orders::replace_items_request& r
    );
    boost::asio::awaitable<orders::transition_result> transition_once(
        pg::lease& lease, const orders::transition_request& r
    );
    boost::asio::awaitable<std::size_t> delete_expired_keys(
        pg::lease& lease, const orders::timestamp& created_before
    );

    // BEGIN; claim + create; then store the rendered answer and COMMIT — or ROLLBACK on any
    // failure before the commit.
    boost::asio::awaitable<orders::create_order_result> create_order_idempotent(
        pg::lease& lease, const orders::new_order& o
    );
    // What the claim round trip decided: the answer when the transaction is already over (a
    // replay, a mismatch, in flight), or the create's outcome and the statement that stores
    // its rendered answer with the key, still to be committed.
    struct claim_step {
        orders::create_order_result outcome;
        std::optional<pg::query> store_answer;
    };
    boost::asio::awaitable<claim_step> claim_and_create(pg::lease& lease, const orders::new_order& o);

    boost::asio::awaitable<pg::lease> checkout(lease_kind kind);
    // Statement plumbing: each counts what it sends into statements_sent_.
    boost::asio::awaitable<pg::result> execute(pg::lease& lease, std::string_view sql, pg::params args);
    boost::asio::awaitable<std::vector<pg::result>> pipeline(
        pg::lease& lease, std::vector<pg::query> queries
    );
    // Ends a write: `work` (after BEGIN unless the transaction is already open) and COMMIT in
    // one round trip through pg::commit_checked, so that a write whose connection is lost is
    // answered by what became of it. Consumes the lease. Every write of this store ends here.
    boost::asio::awaitable<std::vector<pg::result>> commit(
        pg::lease& lease, std::vector<pg::query> work, pg::transaction_start start
    );
    boost::asio::awaitable<void> rollback(pg::lease& lease);

    pg::pool& pool_;
    std::atomic<std::uint64_t> statements_sent_{0};
};

}  // namespace svc::db
