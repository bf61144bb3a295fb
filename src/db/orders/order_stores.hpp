#pragma once
// What the application needs from src/db/orders: the store for the configured backend and the
// periodic purge of expired Idempotency-Key entries.
//
//     auto store = db::make_order_store(*database);          // after db::migrate()
//     orders::service service(*store, &observer);
//     asio::co_spawn(loops.context(0),
//                    db::purge_idempotency_keys_periodically(*store, options.idempotency_purge),
//                    asio::detached);                         // ends when loop 0 stops

#include <chrono>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "db/database.hpp"
#include "orders/store.hpp"

namespace svc::db {

// pg_order_store over database.postgres() or sqlite_order_store over database.sqlite().
// `database` must outlive the store.
std::unique_ptr<orders::order_store> make_order_store(database& database);

struct idempotency_purge_options {
    // IDEMPOTENCY_PURGE_INTERVAL_SECONDS / --idempotency-purge-interval-seconds: between two purges
    // of entries older than orders::k_idempotency_ttl (each purge removes them all, in
    // batches). 0 = never.
    std::chrono::seconds interval{300};
};

// Deletes every idempotency entry created before `created_before`, one batch
// (orders::k_idempotency_purge_batch) per statement, yielding to the calling loop's other work
// between batches; returns how many. Entries created meanwhile are newer: the loop ends.
boost::asio::awaitable<std::size_t> purge_expired_idempotency_keys(
    orders::order_store& store, orders::timestamp created_before
);

// Every `options.interval`, deletes every entry created more than k_idempotency_ttl ago
// (purge_expired_idempotency_keys).
// Runs until the coroutine is cancelled or its loop stops; a failed purge is logged and
// retried at the next tick (an expired entry is already ignored by create_order, so a late
// purge only costs disk). Call on an event loop.
boost::asio::awaitable<void> purge_idempotency_keys_periodically(
    orders::order_store& store, idempotency_purge_options options
);

}  // namespace svc::db
