#pragma once
// orders::order_store on SQLite (see orders/store.hpp for the contract every method keeps).
//
// Every write runs on the database's single writer thread inside BEGIN IMMEDIATE, one
// write() call per operation: writes are serialised by construction, so a transaction sees
// no concurrent change between its checks and its writes, and stock can neither go below
// zero nor be lost. Reads run on the reader threads, each as ONE statement (so it reads
// one consistent WAL snapshot), a page of orders included: items are joined to the page,
// never fetched per order.
//
// Idempotency-Key: the entry is inserted in the order's own transaction and holds the
// rendered answer when it commits; a crash or rollback removes both. Because the writer is
// serial, a duplicate is looked at only after the first request's transaction finished:
// on SQLite it is replayed (or refused as a mismatch), never answered "in flight".
//
// Threading: methods may be called from any event loop; the work runs on the SQLite
// workers and resumes on the caller's executor. The store holds no mutable state besides
// an atomic statement counter.

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "db/sqlite/database.hpp"
#include "orders/store.hpp"

namespace svc::db {

class sqlite_order_store final : public orders::order_store {
public:
    // `db` must outlive the store.
    explicit sqlite_order_store(sqlite::database& db) : db_(db) {}

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

    // SQL statements executed so far by this store (BEGIN/COMMIT not counted). For tests that
    // prove a fixed statement count.
    std::uint64_t statements_sent() const { return statements_.load(std::memory_order_relaxed); }

private:
    // The one wrapper around every method: runs work(session, args...) as one job on a reader
    // thread (in_read: one statement's snapshot per statement, no transaction) or on the
    // writer thread inside BEGIN IMMEDIATE … COMMIT (in_write: a failure rolls back; a
    // refusal wrote nothing, and committing an empty transaction is harmless), resumes on the
    // caller's executor, and turns db::error into the domain's errors
    // (order_store_support::rethrow_for_domain). `args` move into the job; `Session` (the
    // connection and this store's statement counter) is deduced from `work`.
    template <typename Result, typename Session, typename... Args>
    boost::asio::awaitable<Result> in_read(
        Result (*work)(const Session&, const Args&...), std::type_identity_t<Args>... args
    );
    template <typename Result, typename Session, typename... Args>
    boost::asio::awaitable<Result> in_write(
        Result (*work)(const Session&, const Args&...), std::type_identity_t<Args>... args
    );

    sqlite::database& db_;
    // Incremented by the work items on the SQLite threads (they capture its address).
    std::atomic<std::uint64_t> statements_{0};
};

}  // namespace svc::db
