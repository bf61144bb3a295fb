#include "db/orders/sqlite_order_store.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "db/error.hpp"
#include "db/orders/store_support.hpp"
#include "orders/errors.hpp"

namespace svc::db {
namespace {

using boost::asio::awaitable;
namespace o = svc::orders;
using namespace order_store_support;  // this folder's shared helpers and constants

// ---------------------------------------------------------------- SQL
// Times are INTEGER microseconds since the epoch (migrations/sqlite/001), exactly
// orders::timestamp. Text compares and sorts bytewise (BINARY), the service's order.

constexpr std::string_view k_insert_product = R"sql(
INSERT INTO products (id, name, price_cents, stock, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?5)
ON CONFLICT (id) DO NOTHING
RETURNING id, name, price_cents, stock, created_at, updated_at)sql";

constexpr std::string_view k_select_product = R"sql(
SELECT id, name, price_cents, stock, created_at, updated_at FROM products WHERE id = ?1)sql";

constexpr std::string_view k_update_product = R"sql(
UPDATE products
SET name = coalesce(?2, name), price_cents = coalesce(?3, price_cents), stock = coalesce(?4, stock),
    updated_at = ?5
WHERE id = ?1
RETURNING id, name, price_cents, stock, created_at, updated_at)sql";

constexpr std::string_view k_list_products = R"sql(
SELECT id, name, price_cents, stock, created_at, updated_at FROM products
WHERE id > ?1 ORDER BY id LIMIT ?2)sql";

constexpr std::string_view k_select_stock = "SELECT price_cents, stock FROM products WHERE id = ?1";

// No `stock >= ?` guard needed: the writer is serial and the stock was checked in this
// transaction; CHECK (stock >= 0) remains the last line of defence.
constexpr std::string_view k_add_stock = R"sql(
UPDATE products SET stock = stock + ?2, updated_at = ?3 WHERE id = ?1)sql";

constexpr std::string_view k_insert_order = R"sql(
INSERT INTO orders (id, user_id, status, currency, total_cents, version, created_at, updated_at)
VALUES (?1, ?2, 'pending', ?3, ?4, 1, ?5, ?5))sql";

constexpr std::string_view k_insert_item = R"sql(
INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents, line_total_cents)
VALUES (?1, ?2, ?3, ?4, ?5))sql";

constexpr std::string_view k_select_idempotency_key = R"sql(
SELECT request_hash, status_code, response_body, expires_at FROM idempotency_keys
WHERE user_id = ?1 AND key = ?2)sql";

constexpr std::string_view k_delete_idempotency_key = R"sql(
DELETE FROM idempotency_keys WHERE user_id = ?1 AND key = ?2)sql";

// The claim and the answer in one row: inserted after the order, in its transaction.
constexpr std::string_view k_insert_idempotency_key = R"sql(
INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response_body, order_id,
                              created_at, expires_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8))sql";

constexpr std::string_view k_select_order_head = R"sql(
SELECT user_id, status, version FROM orders WHERE id = ?1)sql";

constexpr std::string_view k_select_order_items = R"sql(
SELECT product_id, quantity FROM order_items WHERE order_id = ?1)sql";

constexpr std::string_view k_delete_order_items = "DELETE FROM order_items WHERE order_id = ?1";

constexpr std::string_view k_update_order_items_total = R"sql(
UPDATE orders SET total_cents = ?2, version = version + 1, updated_at = ?3 WHERE id = ?1)sql";

constexpr std::string_view k_update_order_status = R"sql(
UPDATE orders SET status = ?2, version = version + 1, updated_at = ?3 WHERE id = ?1)sql";

// The order with its items, one row per item; one statement, one snapshot.
constexpr std::string_view k_select_order = R"sql(
SELECT o.id, o.user_id, o.status, o.currency, o.total_cents, o.version, o.created_at, o.updated_at,
       i.product_id, i.quantity, i.unit_price_cents, i.line_total_cents
FROM orders o LEFT JOIN order_items i ON i.order_id = o.id
WHERE o.id = ?1
ORDER BY i.product_id)sql";

// A page of orders with their items in ONE statement whatever the page size: the page is
// chosen in a CTE (head), then joined to its items (k_order_page_tail).
// ?1 cursor (k_no_cursor when absent), ?2 status or NULL, ?3 limit, ?4 user id (_for_user).
constexpr char k_order_page_tail[] = R"sql(
    ORDER BY o.id DESC LIMIT ?3
)
SELECT page.id, page.user_id, page.status, page.currency, page.total_cents, page.version,
       page.created_at, page.updated_at,
       i.product_id, i.quantity, i.unit_price_cents, i.line_total_cents
FROM page LEFT JOIN order_items i ON i.order_id = page.id
ORDER BY page.id DESC, i.product_id)sql";

constexpr char k_list_orders_head[] = R"sql(
WITH page AS (
    SELECT * FROM orders o
    WHERE o.id < ?1 AND (?2 IS NULL OR o.status = ?2))sql";
constexpr joined_sql k_list_orders_sql{k_list_orders_head, k_order_page_tail};
constexpr std::string_view k_list_orders = k_list_orders_sql.view();

constexpr char k_list_orders_for_user_head[] = R"sql(
WITH page AS (
    SELECT * FROM orders o
    WHERE o.user_id = ?4 AND o.id < ?1 AND (?2 IS NULL OR o.status = ?2))sql";
constexpr joined_sql k_list_orders_for_user_sql{k_list_orders_for_user_head, k_order_page_tail};
constexpr std::string_view k_list_orders_for_user = k_list_orders_for_user_sql.view();

constexpr std::string_view k_purge_idempotency_keys = R"sql(
DELETE FROM idempotency_keys
WHERE (user_id, key) IN (SELECT user_id, key FROM idempotency_keys WHERE expires_at < ?1 LIMIT ?2))sql";

// ---------------------------------------------------------------- helpers

// A connection plus the store's statement counter: every statement goes through prepare().
struct session {
    sqlite::connection& conn;
    std::atomic<std::uint64_t>& counter;

    sqlite::statement prepare(std::string_view sql) const {
        counter.fetch_add(1, std::memory_order_relaxed);
        return conn.prepare(sql);
    }
};

// Columns: id, name, price_cents, stock, created_at, updated_at.
o::product product_from(const sqlite::statement& s) {
    return o::product{
        .id = s.column_text(0),
        .name = s.column_text(1),
        .price_cents = s.column_int64(2),
        .stock = s.column_int64(3),
        .created_at = s.column_int64(4),
        .updated_at = s.column_int64(5),
    };
}

// Steps through rows of (order 0..7, item 8..11), grouped by order in row order.
std::vector<o::order> orders_from(sqlite::statement& s) {
    std::vector<o::order> orders;
    while (s.step()) {
        if (orders.empty() || orders.back().id != s.column_text_view(0)) {
            o::order order;
            order.id = s.column_text(0);
            order.user_id = s.column_text(1);
            order.status = status_from(s.column_text_view(2));
            order.currency = s.column_text(3);
            order.total_cents = s.column_int64(4);
            order.version = s.column_int64(5);
            order.created_at = s.column_int64(6);
            order.updated_at = s.column_int64(7);
            orders.push_back(std::move(order));
        }
        if (!s.is_null(8)) {
            orders.back().items.push_back(o::order_item{
                .product_id = s.column_text(8),
                .quantity = s.column_int64(9),
                .unit_price_cents = s.column_int64(10),
                .line_total_cents = s.column_int64(11),
            });
        }
    }
    return orders;
}

std::optional<o::order> load_order(const session& db, const std::string& id) {
    auto s = db.prepare(k_select_order);
    s.bind(1, id);
    auto orders = orders_from(s);
    if (orders.empty()) return std::nullopt;
    return std::move(orders.front());
}

struct order_head {
    std::string user_id;
    o::order_status status;
    std::int64_t version;
};

std::optional<order_head> load_head(const session& db, const std::string& id) {
    auto s = db.prepare(k_select_order_head);
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return order_head{s.column_text(0), status_from(s.column_text_view(1)), s.column_int64(2)};
}

// The product's current price when `quantity` more units can be taken from it, else the
// refusal. `quantity` may be ≤ 0 (units given back): then only existence is checked.
std::variant<std::int64_t, o::stock_refusal> check_stock(
    const session& db, const std::string& product_id, std::int64_t quantity
) {
    auto s = db.prepare(k_select_stock);
    s.bind(1, product_id);
    if (!s.step()) return o::stock_refusal{o::stock_refusal::reason::unknown_product, product_id};
    if (s.column_int64(1) < quantity) {
        return o::stock_refusal{o::stock_refusal::reason::insufficient_stock, product_id};
    }
    return s.column_int64(0);
}

void add_stock(const session& db, const std::string& product_id, std::int64_t units, o::timestamp now) {
    auto s = db.prepare(k_add_stock);
    s.bind(1, product_id).bind(2, units).bind(3, now);
    s.run();
}

void insert_items(const session& db, const std::string& order_id, const std::vector<o::order_item>& items) {
    for (const auto& item : items) {
        auto s = db.prepare(k_insert_item);
        s.bind(1, order_id)
            .bind(2, item.product_id)
            .bind(3, item.quantity)
            .bind(4, item.unit_price_cents)
            .bind(5, item.line_total_cents);
        s.run();
    }
}

// Prices every requested item (in the request's product-id order) or names the first
// refused one.
std::variant<std::vector<o::order_item>, o::stock_refusal> price_items(
    const session& db,
    const std::vector<o::item_request>& items,
    const std::map<std::string, std::int64_t>& taken
) {
    std::vector<o::order_item> priced;
    priced.reserve(items.size());
    for (const auto& item : items) {
        auto checked = check_stock(db, item.product_id, taken.at(item.product_id));
        if (auto* refusal = std::get_if<o::stock_refusal>(&checked)) return std::move(*refusal);
        const auto price = std::get<std::int64_t>(checked);
        priced.push_back(o::order_item{item.product_id, item.quantity, price, price * item.quantity});
    }
    return priced;
}

// The body of create_order, on the writer thread inside BEGIN IMMEDIATE.
o::create_order_result create_order_tx(const session& db, const o::new_order& request) {
    if (request.idempotency) {
        const auto& claim = *request.idempotency;
        auto s = db.prepare(k_select_idempotency_key);
        s.bind(1, claim.caller).bind(2, claim.key);
        if (s.step()) {
            if (s.column_int64(3) > request.now) {
                if (s.column_text_view(0) != claim.fingerprint) return o::idempotency_mismatch{};
                if (s.is_null(1)) return o::idempotency_in_flight{};  // a reservation by another protocol
                return o::idempotent_replay{static_cast<unsigned>(s.column_int64(1)), s.column_text(2)};
            }
            s.reset();
            auto expired = db.prepare(k_delete_idempotency_key);  // taken over, as a first request
            expired.bind(1, claim.caller).bind(2, claim.key);
            expired.run();
        }
    }

    std::map<std::string, std::int64_t> taken;
    for (const auto& item : request.items) taken[item.product_id] = item.quantity;
    auto priced = price_items(db, request.items, taken);

    o::create_order_result result;
    unsigned status = 201;
    std::string body;
    std::optional<std::string> order_id;
    if (auto* refusal = std::get_if<o::stock_refusal>(&priced)) {
        status = 400;
        if (request.idempotency) body = request.idempotency->render_refused(*refusal);
        result = std::move(*refusal);
    } else {
        auto created = pending_order(request, std::move(std::get<std::vector<o::order_item>>(priced)));
        for (const auto& item : created.items) add_stock(db, item.product_id, -item.quantity, request.now);
        auto s = db.prepare(k_insert_order);
        s.bind(1, created.id)
            .bind(2, created.user_id)
            .bind(3, created.currency)
            .bind(4, created.total_cents)
            .bind(5, request.now);
        s.run();
        insert_items(db, created.id, created.items);
        if (request.idempotency) body = request.idempotency->render_created(created);
        order_id = created.id;
        result = std::move(created);
    }

    if (request.idempotency) {
        const auto& claim = *request.idempotency;
        auto s = db.prepare(k_insert_idempotency_key);
        s.bind(1, claim.caller)
            .bind(2, claim.key)
            .bind(3, claim.fingerprint)
            .bind(4, static_cast<std::int64_t>(status))
            .bind(5, body)
            .bind(6, order_id)
            .bind(7, request.now)
            .bind(8, expiry_for(request.now));
        s.run();
    }
    return result;
}

o::replace_items_result replace_items_tx(const session& db, const o::replace_items_request& request) {
    auto head = load_head(db, request.order_id);
    if (!head || (request.owner && *request.owner != head->user_id)) return o::order_not_found{};
    if (request.expected_version && *request.expected_version != head->version) {
        return o::version_mismatch{head->version};
    }
    if (head->status != o::order_status::pending) return o::wrong_status{head->status};

    // Net units to take per product: new quantities minus the old ones (negative: returned).
    std::map<std::string, std::int64_t> taken;
    {
        auto s = db.prepare(k_select_order_items);
        s.bind(1, request.order_id);
        while (s.step()) taken[s.column_text(0)] -= s.column_int64(1);
    }
    for (const auto& item : request.items) taken[item.product_id] += item.quantity;

    auto priced = price_items(db, request.items, taken);
    if (auto* refusal = std::get_if<o::stock_refusal>(&priced)) return std::move(*refusal);

    for (const auto& [product_id, units] : taken) {
        if (units != 0) add_stock(db, product_id, -units, request.now);
    }
    {
        auto s = db.prepare(k_delete_order_items);
        s.bind(1, request.order_id);
        s.run();
    }
    auto items = std::move(std::get<std::vector<o::order_item>>(priced));
    insert_items(db, request.order_id, items);
    {
        auto s = db.prepare(k_update_order_items_total);
        s.bind(1, request.order_id).bind(2, total_of(items)).bind(3, request.now);
        s.run();
    }
    auto changed = load_order(db, request.order_id);
    if (!changed) throw std::logic_error("the order vanished inside its own transaction");
    return std::move(*changed);
}

o::transition_result transition_tx(const session& db, const o::transition_request& request) {
    auto head = load_head(db, request.order_id);
    if (!head || (request.owner && *request.owner != head->user_id)) return o::order_not_found{};
    if (request.expected_version && *request.expected_version != head->version) {
        return o::version_mismatch{head->version};
    }
    bool accepted = false;
    for (const auto s : request.from) accepted = accepted || s == head->status;
    if (!accepted) return o::wrong_status{head->status};

    {
        auto s = db.prepare(k_update_order_status);
        s.bind(1, request.order_id).bind(2, o::to_string(request.to)).bind(3, request.now);
        s.run();
    }
    auto after = load_order(db, request.order_id);
    if (!after) throw std::logic_error("the order vanished inside its own transaction");
    if (request.restock) {
        for (const auto& item : after->items) add_stock(db, item.product_id, item.quantity, request.now);
    }
    return o::transitioned{std::move(*after), head->status};
}

// The read and write work of the store's methods, each a plain function run by in_read() or
// in_write() on a SQLite thread.

std::variant<o::product, o::product_exists> insert_product(
    const session& db, const o::new_product& p, const o::timestamp& now
) {
    auto s = db.prepare(k_insert_product);
    s.bind(1, p.id).bind(2, p.name).bind(3, p.price_cents).bind(4, p.stock).bind(5, now);
    if (!s.step()) return o::product_exists{};
    return product_from(s);
}

std::optional<o::product> select_product(const session& db, const std::string& id) {
    auto s = db.prepare(k_select_product);
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return product_from(s);
}

std::optional<o::product> patch_product(
    const session& db, const std::string& id, const o::product_patch& patch, const o::timestamp& now
) {
    auto s = db.prepare(k_update_product);
    s.bind(1, id).bind(2, patch.name).bind(3, patch.price_cents).bind(4, patch.stock).bind(5, now);
    if (!s.step()) return std::nullopt;
    return product_from(s);
}

o::page<o::product> select_products(const session& db, const o::product_query& query) {
    auto s = db.prepare(k_list_products);
    // One row more than asked tells whether another page follows.
    s.bind(1, query.after_id.value_or(std::string())).bind(2, static_cast<std::int64_t>(query.limit) + 1);
    std::vector<o::product> products;
    while (s.step()) products.push_back(product_from(s));
    return page_of(std::move(products), query.limit);
}

o::page<o::order> select_orders(const session& db, const o::order_query& query) {
    auto s = db.prepare(query.user_id ? k_list_orders_for_user : k_list_orders);
    s.bind(1, query.before_id.value_or(std::string(k_no_cursor)))
        .bind(3, static_cast<std::int64_t>(query.limit) + 1);
    if (query.status) {
        s.bind(2, o::to_string(*query.status));
    } else {
        s.bind(2, nullptr);
    }
    if (query.user_id) s.bind(4, *query.user_id);
    return page_of(orders_from(s), query.limit);
}

std::size_t delete_expired_keys(const session& db, const o::timestamp& created_before) {
    // Every entry expires k_idempotency_ttl after its creation, and expires_at is indexed.
    auto s = db.prepare(k_purge_idempotency_keys);
    s.bind(1, expiry_for(created_before)).bind(2, k_purge_batch);
    return static_cast<std::size_t>(s.run());
}

}  // namespace

// ---------------------------------------------------------------- the wrappers

template <typename Result, typename Session, typename... Args>
awaitable<Result> sqlite_order_store::in_read(
    Result (*work)(const Session&, const Args&...), std::type_identity_t<Args>... args
) {
    try {
        auto job = [work, counter = &statements_, ... args = std::move(args)](sqlite::connection& c
                   ) -> Result {
            return work(Session{c, *counter}, args...);
        };  // GCC 12: named, see store_support.hpp
        co_return co_await db_.read(std::move(job));
    } catch (const db::error& e) {
        rethrow_for_domain(e);
    }
}

template <typename Result, typename Session, typename... Args>
awaitable<Result> sqlite_order_store::in_write(
    Result (*work)(const Session&, const Args&...), std::type_identity_t<Args>... args
) {
    try {
        auto job = [work, counter = &statements_, ... args = std::move(args)](sqlite::connection& c
                   ) -> Result {
            sqlite::transaction tx(c);
            auto outcome = work(Session{c, *counter}, args...);
            tx.commit();
            return outcome;
        };  // GCC 12: named, see store_support.hpp
        co_return co_await db_.write(std::move(job));
    } catch (const db::error& e) {
        rethrow_for_domain(e);
    }
}

// ---------------------------------------------------------------- the methods

awaitable<std::variant<o::product, o::product_exists>> sqlite_order_store::create_product(
    o::new_product p, o::timestamp now
) {
    co_return co_await in_write(insert_product, std::move(p), now);
}

awaitable<std::optional<o::product>> sqlite_order_store::get_product(std::string id) {
    co_return co_await in_read(select_product, std::move(id));
}

awaitable<std::optional<o::product>> sqlite_order_store::update_product(
    std::string id, o::product_patch patch, o::timestamp now
) {
    co_return co_await in_write(patch_product, std::move(id), std::move(patch), now);
}

awaitable<o::page<o::product>> sqlite_order_store::list_products(o::product_query query) {
    co_return co_await in_read(select_products, std::move(query));
}

awaitable<o::create_order_result> sqlite_order_store::create_order(o::new_order order) {
    co_return co_await in_write(create_order_tx, std::move(order));
}

awaitable<std::optional<o::order>> sqlite_order_store::get_order(std::string id) {
    co_return co_await in_read(load_order, std::move(id));
}

awaitable<o::page<o::order>> sqlite_order_store::list_orders(o::order_query query) {
    co_return co_await in_read(select_orders, std::move(query));
}

awaitable<o::replace_items_result> sqlite_order_store::replace_items(o::replace_items_request request) {
    co_return co_await in_write(replace_items_tx, std::move(request));
}

awaitable<o::transition_result> sqlite_order_store::transition(o::transition_request request) {
    co_return co_await in_write(transition_tx, std::move(request));
}

awaitable<std::size_t> sqlite_order_store::purge_idempotency_keys(o::timestamp created_before) {
    co_return co_await in_write(delete_expired_keys, created_before);
}

}  // namespace svc::db
