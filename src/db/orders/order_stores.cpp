#include "db/orders/order_stores.hpp"

#include <exception>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "db/orders/pg_order_store.hpp"
#include "db/orders/sqlite_order_store.hpp"
#include "orders/service.hpp"

namespace svc::db {

std::unique_ptr<orders::order_store> make_order_store(database& database) {
    if (database.backend() == backend::postgresql)
        return std::make_unique<pg_order_store>(database.postgres());
    return std::make_unique<sqlite_order_store>(database.sqlite());
}

boost::asio::awaitable<std::size_t> purge_expired_idempotency_keys(
    orders::order_store& store, orders::timestamp created_before
) {
    std::size_t purged = 0;
    for (;;) {
        const auto batch = co_await store.purge_idempotency_keys(created_before);
        purged += batch;
        if (batch < orders::k_idempotency_purge_batch) co_return purged;
        // Let the loop's requests run between two batches.
        co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
    }
}

boost::asio::awaitable<void> purge_idempotency_keys_periodically(
    orders::order_store& store, idempotency_purge_options options
) {
    if (options.interval.count() <= 0) co_return;
    const auto ttl = std::chrono::duration_cast<std::chrono::microseconds>(orders::k_idempotency_ttl).count();
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    for (;;) {
        timer.expires_after(options.interval);
        co_await timer.async_wait(boost::asio::use_awaitable);  // throws when cancelled: the end
        try {
            const auto purged = co_await purge_expired_idempotency_keys(store, orders::system_now() - ttl);
            if (purged > 0) spdlog::info("purged {} expired idempotency keys", purged);
        } catch (const std::exception& e) {
            spdlog::warn(
                "idempotency key purge failed, retrying in {} s: {}", options.interval.count(), e.what()
            );
        }
    }
}

}  // namespace svc::db
