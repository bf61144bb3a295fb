#include "db/orders/pg_order_store.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
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
//
// Column lists are spelled out (never SELECT *) so that decoding by index stays correct when
// a migration adds a column. The last statement of every write also returns
// `transaction_id` (pg::k_transaction_id_column), which pg::commit_checked reads by name to
// settle a commit whose connection is lost. Items are ordered COLLATE "C" — byte order, the order the
// service sorts product ids in — whatever the database's default collation.

constexpr std::string_view k_insert_product = R"sql(
INSERT INTO products (id, name, price_cents, stock, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT (id) DO NOTHING
RETURNING id, name, price_cents, stock, created_at, updated_at,
          pg_current_xact_id_if_assigned()::text AS transaction_id)sql";

constexpr std::string_view k_select_product = R"sql(
SELECT id, name, price_cents, stock, created_at, updated_at FROM products WHERE id = $1)sql";

// Absent fields arrive as NULL and keep their value.
constexpr std::string_view k_update_product = R"sql(
UPDATE products
SET name = coalesce($2::text, name),
    price_cents = coalesce($3::int8, price_cents),
    stock = coalesce($4::int8, stock),
    updated_at = $5
WHERE id = $1
RETURNING id, name, price_cents, stock, created_at, updated_at,
          pg_current_xact_id_if_assigned()::text AS transaction_id)sql";

// Keyset page by id. `id > ''` when there is no cursor: every id is at least one character.
constexpr std::string_view k_list_products = R"sql(
SELECT id, name, price_cents, stock, created_at, updated_at FROM products
WHERE id > $1 ORDER BY id LIMIT $2)sql";

// Columns of every product statement above (RETURNING / SELECT id, name, … updated_at).
namespace product_cols {
enum : std::uint8_t { id = 0, name = 1, price_cents = 2, stock = 3, created_at = 4, updated_at = 5 };
}

// Order-changing work is split in two kinds of statements sent in ONE pipeline (one round
// trip, one transaction): first the rows are locked — products always in ascending id order
// (FOR NO KEY UPDATE: what an UPDATE of the stock takes; it does not conflict with the
// FOR KEY SHARE of foreign-key checks) — then a statement does the work. In READ COMMITTED
// every statement takes a new snapshot when it starts, so the working statement reads the
// locked rows as they now are and can decide with plain reads. (Locking and deciding in a
// single statement is not safe: a FOR UPDATE CTE is evaluated lazily, as far as its readers
// demand, and the rows it locks late may have been read by the statement's older snapshot
// — the stock test of tests/db/orders caught exactly that.)

// Products of a create request, in id order. $1 product ids (text[]).
constexpr std::string_view k_lock_products = R"sql(
SELECT id FROM products WHERE id = ANY ($1::text[]) ORDER BY id FOR NO KEY UPDATE)sql";

// The same, only when this transaction holds the Idempotency-Key claim ($2 caller, $3 key):
// a committed entry always carries its status, so a NULL status is our own claim.
constexpr std::string_view k_lock_products_claimed = R"sql(
SELECT id FROM products
WHERE id = ANY ($1::text[])
  AND EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.user_id = $2 AND k.key = $3 AND k.status_code IS NULL)
ORDER BY id FOR NO KEY UPDATE)sql";

// create_order's working statement, after the products are locked. Expects CTE
// `gate(proceed)` before it; parameters: $1 order id, $2 owner, $3 currency, $4 product ids
// (text[], sorted), $5 quantities (int8[]), $6 now. The verdict comes from the current rows,
// every write is gated on it, so a refusal writes nothing; CHECK (stock >= 0) remains the
// last line of defence (it would abort the whole statement, never half of it).
constexpr char k_create_order_tail[] = R"sql(
req AS (
    SELECT r.product_id, r.quantity FROM unnest($4::text[], $5::int8[]) AS r(product_id, quantity)
    WHERE (SELECT proceed FROM gate)
), current_stock AS (
    SELECT p.id, p.price_cents, p.stock FROM products p WHERE p.id IN (SELECT product_id FROM req)
), verdict AS (
    SELECT count(*) = (SELECT count(*) FROM req) AS all_ok
    FROM req JOIN current_stock s ON s.id = req.product_id
    WHERE s.stock >= req.quantity
), taken AS (
    UPDATE products p SET stock = p.stock - req.quantity, updated_at = $6
    FROM req
    WHERE p.id = req.product_id AND (SELECT all_ok FROM verdict)
    RETURNING p.id, p.price_cents, req.quantity
), new_order AS (
    INSERT INTO orders (id, user_id, status, currency, total_cents, version, created_at, updated_at)
    SELECT $1, $2, 'pending', $3, sum(taken.price_cents * taken.quantity), 1, $6, $6
    FROM taken
    HAVING count(*) > 0 AND count(*) = (SELECT count(*) FROM req)
    RETURNING id
), new_items AS (
    INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents, line_total_cents)
    SELECT $1, taken.id, taken.quantity, taken.price_cents, taken.price_cents * taken.quantity
    FROM taken
    WHERE EXISTS (SELECT 1 FROM new_order)
)
SELECT EXISTS (SELECT 1 FROM new_order) AS created,
       req.product_id, req.quantity, s.id IS NOT NULL AS known, s.stock >= req.quantity AS enough,
       s.price_cents, pg_current_xact_id_if_assigned()::text AS transaction_id
FROM req LEFT JOIN current_stock s ON s.id = req.product_id
ORDER BY req.product_id COLLATE "C")sql";

// Columns of k_create_order_tail's rows, one per requested item.
namespace create_cols {
enum : std::uint8_t { created = 0, product_id = 1, quantity = 2, known = 3, enough = 4, price_cents = 5 };
}

// Without an Idempotency-Key: BEGIN; plan mode; k_lock_products; k_create_order; COMMIT —
// one pipeline, one round trip.
constexpr char k_create_order_head[] = R"sql(
WITH gate AS (SELECT true AS proceed),
)sql";
constexpr joined_sql k_create_order_sql{k_create_order_head, k_create_order_tail};
constexpr std::string_view k_create_order = k_create_order_sql.view();

// With an Idempotency-Key ($7 caller, $8 key): works only when this transaction holds the claim.
constexpr char k_create_order_claimed_head[] = R"sql(
WITH gate AS (
    SELECT EXISTS (SELECT 1 FROM idempotency_keys k WHERE k.user_id = $7 AND k.key = $8 AND k.status_code IS NULL)
           AS proceed
),
)sql";
constexpr joined_sql k_create_order_claimed_sql{k_create_order_claimed_head, k_create_order_tail};
constexpr std::string_view k_create_order_claimed = k_create_order_claimed_sql.view();

// The Idempotency-Key claim, first statement after BEGIN. $1 caller, $2 key, $3 fingerprint,
// $4 now, $5 expires_at of a new claim.
// - key_lock: the in-flight detector. The claimer holds it until its transaction ends, so a
//   duplicate never waits: held = false → "in flight". A crash releases it with the claim.
// - prior: a committed, unexpired entry → replay or mismatch, nothing else happens.
// - claim: the key row, in this transaction (so it lives and dies with the order). An
//   expired row is taken over. When a duplicate committed between this statement's snapshot
//   and our advisory lock, ON CONFLICT finds its row and claims nothing (claimed = false,
//   prior empty): the caller then re-reads the entry with a fresh snapshot.
constexpr std::string_view k_claim_idempotency_key = R"sql(
WITH key_lock AS (
    SELECT pg_try_advisory_xact_lock(hashtextextended($1 || E'\n' || $2, 0)) AS held
), prior AS (
    SELECT k.request_hash, k.status_code, k.response_body FROM idempotency_keys k
    WHERE k.user_id = $1 AND k.key = $2 AND k.expires_at > $4
), claim AS (
    INSERT INTO idempotency_keys AS k (user_id, key, request_hash, created_at, expires_at)
    SELECT $1, $2, $3, $4, $5
    WHERE (SELECT held FROM key_lock) AND NOT EXISTS (SELECT 1 FROM prior)
    ON CONFLICT (user_id, key) DO UPDATE
        SET request_hash = excluded.request_hash, status_code = NULL, response_body = NULL,
            order_id = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at
        WHERE k.expires_at <= excluded.created_at
    RETURNING true
)
SELECT (SELECT held FROM key_lock) AS key_held, EXISTS (SELECT 1 FROM claim) AS claimed,
       prior.request_hash, prior.status_code, prior.response_body
FROM (SELECT 1) AS one LEFT JOIN prior ON true)sql";
// The claim's one row: whether we hold the key's lock and the claim, then a committed entry's
// answer (idempotency_answer_cols, counted from prior_answer; NULL when there is none).
namespace claim_cols {
enum : std::uint8_t { key_held = 0, claimed = 1, prior_answer = 2 };
}

// The answer stored with a claimed key, before COMMIT. $5 order id or NULL.
constexpr std::string_view k_store_idempotent_answer = R"sql(
UPDATE idempotency_keys SET status_code = $3, response_body = $4, order_id = $5::uuid
WHERE user_id = $1 AND key = $2
RETURNING pg_current_xact_id_if_assigned()::text AS transaction_id)sql";

// A committed entry, read with a fresh snapshot (after the claim lost a race).
constexpr std::string_view k_select_idempotency_key = R"sql(
SELECT request_hash, status_code, response_body FROM idempotency_keys
WHERE user_id = $1 AND key = $2 AND expires_at > $3)sql";

// A committed entry's columns, counted from the first (k_select_idempotency_key's 0, or
// claim_cols::prior_answer in the claim's row).
namespace idempotency_answer_cols {
enum : std::uint8_t { request_hash = 0, status_code = 1, response_body = 2 };
}

constexpr std::string_view k_begin = "BEGIN";
constexpr std::string_view k_rollback = "ROLLBACK";

// The order and its items, one row per item (an order without items cannot exist, but the
// LEFT JOIN keeps the decoder total).
constexpr std::string_view k_select_order = R"sql(
SELECT o.id, o.user_id, o.status, o.currency, o.total_cents, o.version, o.created_at, o.updated_at,
       i.product_id, i.quantity, i.unit_price_cents, i.line_total_cents
FROM orders o LEFT JOIN order_items i ON i.order_id = o.id
WHERE o.id = $1
ORDER BY i.product_id COLLATE "C")sql";

// An order header's columns counted from its first (order_cols::header, change_cols::order),
// and an item's from its first.
namespace header_cols {
enum : std::uint8_t {
    id = 0,
    user_id = 1,
    status = 2,
    currency = 3,
    total_cents = 4,
    version = 5,
    created_at = 6,
    updated_at = 7
};
}
namespace item_cols {
enum : std::uint8_t { product_id = 0, quantity = 1, unit_price_cents = 2, line_total_cents = 3 };
}
// Rows of k_select_order and of the order pages: the header, then one item (NULL when none).
namespace order_cols {
enum : std::uint8_t { header = 0, item = 8 };
}

// A page of orders with all their items in ONE statement, whatever the page size: the page
// is chosen in a CTE (keyset: id below the cursor, newest first), then joined to its items.
// $1 cursor (the maximal uuid when absent), $2 statuses (all when unfiltered), $3 limit,
// $4 user id (the _for_user variant; served by ix_orders_user_id_id).
constexpr char k_order_page_tail[] = R"sql(
)
SELECT page.id, page.user_id, page.status, page.currency, page.total_cents, page.version,
       page.created_at, page.updated_at,
       i.product_id, i.quantity, i.unit_price_cents, i.line_total_cents
FROM page LEFT JOIN order_items i ON i.order_id = page.id
ORDER BY page.id DESC, i.product_id COLLATE "C")sql";

constexpr char k_list_orders_head[] = R"sql(
WITH page AS (
    SELECT o.id, o.user_id, o.status, o.currency, o.total_cents, o.version, o.created_at, o.updated_at
    FROM orders o
    WHERE o.id < $1::uuid AND o.status = ANY ($2::text[])
    ORDER BY o.id DESC LIMIT $3)sql";
constexpr joined_sql k_list_orders_sql{k_list_orders_head, k_order_page_tail};
constexpr std::string_view k_list_orders = k_list_orders_sql.view();

// One user's page runs with a generic plan (see generic()), so its plan must not hinge
// on estimates: `user_id = $4` would let `ORDER BY id DESC` come from orders_pkey as well, and
// after an ANALYZE the generic plan did walk orders_pkey backwards filtering on user_id
// (1,005 buffers per page instead of 24). Written as a range, the user id is not a constant
// of the ordering, and ORDER BY (user_id, id DESC) — the index's own order — is cheap only
// on ix_orders_user_id_id. (With a deterministic collation, a <= b <= a means a = b.)
constexpr char k_list_orders_for_user_head[] = R"sql(
WITH page AS (
    SELECT o.id, o.user_id, o.status, o.currency, o.total_cents, o.version, o.created_at, o.updated_at
    FROM orders o
    WHERE o.user_id >= $4 AND o.user_id <= $4 AND o.id < $1::uuid AND o.status = ANY ($2::text[])
    ORDER BY o.user_id, o.id DESC LIMIT $3)sql";
constexpr joined_sql k_list_orders_for_user_sql{k_list_orders_for_user_head, k_order_page_tail};
constexpr std::string_view k_list_orders_for_user = k_list_orders_for_user_sql.view();

// First statement of every order change: lock the order row, so that the next statement of
// the same transaction (new snapshot in READ COMMITTED) reads the order as it now is.
constexpr std::string_view k_lock_order = "SELECT 1 FROM orders WHERE id = $1 FOR NO KEY UPDATE";

// replace_items, second statement: the products of the new items and of the order's current
// items, in id order. $1 order id, $2 new product ids (text[]).
constexpr std::string_view k_lock_products_for_replace = R"sql(
SELECT id FROM products
WHERE id IN (SELECT unnest($2::text[]) UNION SELECT product_id FROM order_items WHERE order_id = $1)
ORDER BY id FOR NO KEY UPDATE)sql";

// transition with restock, second statement: the order's products, in id order. $1 order id.
constexpr std::string_view k_lock_order_products = R"sql(
SELECT id FROM products WHERE id IN (SELECT product_id FROM order_items WHERE order_id = $1)
ORDER BY id FOR NO KEY UPDATE)sql";

// The rows of k_replace_items and k_transition begin alike: the checks, in the contract's
// precedence (visible to the caller, expected version, a status the change accepts), the
// status and version found, then the changed order's header (NULL when nothing changed).
// Their shared head: $1 order id, $2 owner or NULL, $3 expected version or NULL.
constexpr char k_order_change_head[] = R"sql(
WITH cur AS (
    SELECT o.user_id, o.status, o.version FROM orders o WHERE o.id = $1
), checks AS (
    SELECT ($2::text IS NULL OR cur.user_id = $2) AS visible,
           ($3::int8 IS NULL OR cur.version = $3) AS version_ok,)sql";
namespace change_cols {
enum : std::uint8_t { visible = 0, version_ok = 1, status_ok = 2, status = 3, version = 4, order = 5 };
}

// replace_items, after k_lock_order. $1 order id, $2 owner or NULL, $3 expected version or NULL,
// $4 product ids (text[], sorted), $5 quantities (int8[]), $6 now.
// The checks come out in the contract's precedence (visible, version, status); when they pass,
// the net stock delta per product (new − old) is applied in product-id lock order, all or
// nothing, the item rows are replaced at the products' current prices and the order's total,
// version and updated_at follow.
constexpr char k_replace_items_tail[] = R"sql(
           cur.status = 'pending' AS status_ok,
           cur.status, cur.version
    FROM cur
), go AS (
    SELECT coalesce((SELECT visible AND version_ok AND status_ok FROM checks), false) AS ok
), old_items AS (
    SELECT i.product_id, i.quantity FROM order_items i WHERE i.order_id = $1 AND (SELECT ok FROM go)
), req AS (
    SELECT r.product_id, r.quantity FROM unnest($4::text[], $5::int8[]) AS r(product_id, quantity)
    WHERE (SELECT ok FROM go)
), delta AS (
    SELECT d.product_id, sum(d.quantity) AS taken
    FROM (SELECT product_id, quantity FROM req
          UNION ALL SELECT product_id, -quantity FROM old_items) AS d
    GROUP BY d.product_id
), locked AS (  -- locked by k_lock_products_for_replace: these are the current rows
    SELECT p.id, p.price_cents, p.stock FROM products p WHERE p.id IN (SELECT product_id FROM delta)
), verdict AS (
    SELECT (SELECT ok FROM go) AND NOT EXISTS (
        SELECT 1 FROM req
        JOIN delta d ON d.product_id = req.product_id
        LEFT JOIN locked l ON l.id = req.product_id
        WHERE l.id IS NULL OR l.stock < d.taken
    ) AS all_ok
), adjusted AS (
    UPDATE products p SET stock = p.stock - d.taken, updated_at = $6
    FROM delta d
    WHERE p.id = d.product_id AND d.taken <> 0 AND (SELECT all_ok FROM verdict)
), dropped AS (
    DELETE FROM order_items i WHERE i.order_id = $1 AND (SELECT all_ok FROM verdict)
    RETURNING i.product_id
), added AS (
    -- Gated on `dropped` having run: the new rows may reuse the old rows' keys.
    INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents, line_total_cents)
    SELECT $1, req.product_id, req.quantity, l.price_cents, req.quantity * l.price_cents
    FROM req JOIN locked l ON l.id = req.product_id
    WHERE (SELECT all_ok FROM verdict) AND (SELECT count(*) FROM dropped) >= 0
), changed AS (
    UPDATE orders o
    SET total_cents = (SELECT sum(req.quantity * l.price_cents) FROM req JOIN locked l ON l.id = req.product_id),
        version = o.version + 1, updated_at = $6
    WHERE o.id = $1 AND (SELECT all_ok FROM verdict)
    RETURNING o.id, o.user_id, o.status, o.currency, o.total_cents, o.version, o.created_at, o.updated_at
)
SELECT checks.visible, checks.version_ok, checks.status_ok, checks.status, checks.version,
       changed.id, changed.user_id, changed.status, changed.currency, changed.total_cents,
       changed.version, changed.created_at, changed.updated_at,
       req.product_id, req.quantity, l.price_cents, l.id IS NOT NULL AS known, l.stock >= d.taken AS enough,
       pg_current_xact_id_if_assigned()::text AS transaction_id
FROM (SELECT 1) AS one
LEFT JOIN checks ON true
LEFT JOIN changed ON true
LEFT JOIN req ON true
LEFT JOIN locked l ON l.id = req.product_id
LEFT JOIN delta d ON d.product_id = req.product_id
ORDER BY req.product_id COLLATE "C")sql";
constexpr joined_sql k_replace_items_sql{k_order_change_head, k_replace_items_tail};
constexpr std::string_view k_replace_items = k_replace_items_sql.view();

// k_replace_items' rows: change_cols, then one requested item per row.
namespace replace_cols {
enum : std::uint8_t { product_id = 13, quantity = 14, price_cents = 15, known = 16, enough = 17 };
}

// transition, after k_lock_order. $1 order id, $2 owner or NULL, $3 expected version or NULL,
// $4 accepted statuses (text[]), $5 new status, $6 restock, $7 now.
constexpr char k_transition_tail[] = R"sql(
           cur.status = ANY ($4::text[]) AS status_ok,
           cur.status, cur.version
    FROM cur
), go AS (
    SELECT coalesce((SELECT visible AND version_ok AND status_ok FROM checks), false) AS ok
), moved AS (
    UPDATE orders o SET status = $5, version = o.version + 1, updated_at = $7
    WHERE o.id = $1 AND (SELECT ok FROM go)
    RETURNING o.id, o.user_id, o.status, o.currency, o.total_cents, o.version, o.created_at, o.updated_at
), restocked AS (  -- products locked by k_lock_order_products
    UPDATE products p SET stock = p.stock + i.quantity, updated_at = $7
    FROM order_items i
    WHERE $6::bool AND (SELECT ok FROM go) AND i.order_id = $1 AND p.id = i.product_id
)
SELECT checks.visible, checks.version_ok, checks.status_ok, checks.status, checks.version,
       moved.id, moved.user_id, moved.status, moved.currency, moved.total_cents, moved.version,
       moved.created_at, moved.updated_at,
       i.product_id, i.quantity, i.unit_price_cents, i.line_total_cents,
       pg_current_xact_id_if_assigned()::text AS transaction_id
FROM (SELECT 1) AS one
LEFT JOIN checks ON true
LEFT JOIN moved ON true
LEFT JOIN order_items i ON i.order_id = moved.id
ORDER BY i.product_id COLLATE "C")sql";
constexpr joined_sql k_transition_sql{k_order_change_head, k_transition_tail};
constexpr std::string_view k_transition = k_transition_sql.view();

// k_transition's rows: change_cols, then one of the moved order's items per row.
namespace transition_cols {
enum : std::uint8_t { item = 13 };
}

// One batch ($2 rows at most), so a big backlog never holds locks for long.
constexpr std::string_view k_purge_idempotency_keys = R"sql(
DELETE FROM idempotency_keys
WHERE (user_id, key) IN (
    SELECT user_id, key FROM idempotency_keys WHERE expires_at < $1 LIMIT $2
))sql";

// Deadlocks and serialization failures are retried this many times in all.
constexpr int k_max_attempts = 3;

// ---------------------------------------------------------------- conversions

pg::timestamp to_pg(o::timestamp t) {
    return pg::timestamp{std::chrono::microseconds{t}};
}

o::timestamp from_pg(pg::timestamp t) {
    return t.time_since_epoch().count();
}

std::vector<std::string> status_names(const std::vector<o::order_status>& statuses) {
    std::vector<std::string> names;
    names.reserve(statuses.size());
    for (const auto s : statuses) names.emplace_back(o::to_string(s));
    return names;
}

struct item_arrays {
    std::vector<std::string> product_ids;
    std::vector<std::int64_t> quantities;
};

item_arrays to_arrays(const std::vector<o::item_request>& items) {
    item_arrays arrays;
    arrays.product_ids.reserve(items.size());
    arrays.quantities.reserve(items.size());
    for (const auto& item : items) {
        arrays.product_ids.push_back(item.product_id);
        arrays.quantities.push_back(item.quantity);
    }
    return arrays;
}

o::product product_from(const pg::row& r) {
    using namespace product_cols;
    return o::product{
        .id = r.text(id),
        .name = r.text(name),
        .price_cents = r.int64(price_cents),
        .stock = r.int64(stock),
        .created_at = from_pg(r.time(created_at)),
        .updated_at = from_pg(r.time(updated_at)),
    };
}

// The order header whose first column is `first` (header_cols counted from there).
o::order order_header_from(const pg::row& r, int first) {
    using namespace header_cols;
    o::order order;
    order.id = r.text(first + id);
    order.user_id = r.text(first + user_id);
    order.status = status_from(r.text_view(first + status));
    order.currency = r.text(first + currency);
    order.total_cents = r.int64(first + total_cents);
    order.version = r.int64(first + version);
    order.created_at = from_pg(r.time(first + created_at));
    order.updated_at = from_pg(r.time(first + updated_at));
    return order;
}

// The item whose first column is `first` (item_cols counted from there); nothing when the
// row is the LEFT JOIN's "no item".
void append_item(o::order& order, const pg::row& r, int first) {
    using namespace item_cols;
    if (r.is_null(first + product_id)) return;
    order.items.push_back(o::order_item{
        .product_id = r.text(first + product_id),
        .quantity = r.int64(first + quantity),
        .unit_price_cents = r.int64(first + unit_price_cents),
        .line_total_cents = r.int64(first + line_total_cents),
    });
}

// Rows of order_cols (a header, then an item), grouped by order in row order.
std::vector<o::order> orders_from(const pg::result& rows) {
    const int header = order_cols::header;
    std::vector<o::order> orders;
    for (int i = 0; i < rows.rows(); ++i) {
        const auto r = rows[i];
        if (orders.empty() || orders.back().id != r.text(header + header_cols::id)) {
            orders.push_back(order_header_from(r, header));
        }
        append_item(orders.back(), r, order_cols::item);
    }
    return orders;
}

// Where a statement's rows say, per requested item, whether it could be served.
struct item_verdict_columns {
    int product_id;
    int known;   // the product exists
    int enough;  // its stock covers the request (NULL for an unknown product)
};

// The first refused item in the request's (product id) order, or nothing.
std::optional<o::stock_refusal> first_refusal(const pg::result& rows, item_verdict_columns columns) {
    for (int i = 0; i < rows.rows(); ++i) {
        const auto r = rows[i];
        if (r.is_null(columns.product_id)) continue;
        if (!r.boolean(columns.known)) {
            return o::stock_refusal{o::stock_refusal::reason::unknown_product, r.text(columns.product_id)};
        }
        if (r.is_null(columns.enough) || !r.boolean(columns.enough)) {
            return o::stock_refusal{o::stock_refusal::reason::insufficient_stock, r.text(columns.product_id)};
        }
    }
    return std::nullopt;
}

// The created order or the refusal, from k_create_order's rows (create_cols). The order is
// rebuilt from the statement's prices with the same arithmetic the SQL stored.
o::create_order_result outcome_of_create(const pg::result& rows, const o::new_order& order) {
    using namespace create_cols;
    if (rows.empty() || !rows[0].boolean(created)) {
        if (auto refusal = first_refusal(rows, {product_id, known, enough})) return *refusal;
        throw std::logic_error("create_order wrote nothing and refused nothing");
    }
    std::vector<o::order_item> items;
    items.reserve(static_cast<std::size_t>(rows.rows()));
    for (int i = 0; i < rows.rows(); ++i) {
        const auto r = rows[i];
        const auto units = r.int64(quantity);
        const auto price = r.int64(price_cents);
        items.push_back(o::order_item{r.text(product_id), units, price, price * units});
    }
    return pending_order(order, std::move(items));
}

// Why k_replace_items or k_transition changed nothing, from the checks of its first row
// (change_cols), or nothing when every check passed.
template <typename Result>
std::optional<Result> refused_by_checks(const pg::row& head) {
    using namespace change_cols;
    if (head.is_null(visible) || !head.boolean(visible)) return o::order_not_found{};
    if (!head.boolean(version_ok)) return o::version_mismatch{head.int64(version)};
    if (!head.boolean(status_ok)) return o::wrong_status{status_from(head.text_view(status))};
    return std::nullopt;
}

// The changed order, or why nothing changed, from k_replace_items' rows.
o::replace_items_result outcome_of_replace(const pg::result& rows) {
    using namespace replace_cols;
    const auto head = rows[0];
    if (auto refused = refused_by_checks<o::replace_items_result>(head)) return *refused;
    if (head.is_null(change_cols::order)) {
        if (auto refusal = first_refusal(rows, {product_id, known, enough})) return *refusal;
        throw std::logic_error("replace_items changed nothing and refused nothing");
    }
    o::order changed = order_header_from(head, change_cols::order);
    for (int i = 0; i < rows.rows(); ++i) {
        const auto r = rows[i];
        const auto units = r.int64(quantity);
        const auto price = r.int64(price_cents);
        changed.items.push_back(o::order_item{r.text(product_id), units, price, units * price});
    }
    return changed;
}

// The moved order, or why it did not move, from k_transition's rows.
o::transition_result outcome_of_transition(const pg::result& rows) {
    const auto head = rows[0];
    if (auto refused = refused_by_checks<o::transition_result>(head)) return *refused;
    const auto previous = status_from(head.text_view(change_cols::status));
    if (head.is_null(change_cols::order)) return o::wrong_status{previous};
    o::transitioned done{order_header_from(head, change_cols::order), previous};
    for (int i = 0; i < rows.rows(); ++i) append_item(done.after, rows[i], transition_cols::item);
    return done;
}

// A committed Idempotency-Key entry's answer to a request with `fingerprint`, from the row
// whose idempotency_answer_cols start at `first`.
o::create_order_result stored_answer(const pg::row& r, int first, const std::string& fingerprint) {
    using namespace idempotency_answer_cols;
    if (r.text_view(first + request_hash) != fingerprint) return o::idempotency_mismatch{};
    // A committed entry always carries its answer; a NULL would be a reservation written by
    // another protocol, still running as far as we can tell.
    if (r.is_null(first + status_code)) return o::idempotency_in_flight{};
    return o::idempotent_replay{
        static_cast<unsigned>(r.int64(first + status_code)), r.text(first + response_body)};
}

// A statement planned once per connection and reused (pg::plan_mode::generic, unless
// DB_GENERIC_PLANS=false). The writes are CTEs over key lookups whose best plan does not
// depend on the parameters, yet PostgreSQL's default (plan_cache_mode = auto) plans them anew
// at every execution, because the generic plan's estimates (unnest of a parameter: 100 rows)
// look costlier than a custom plan's (2 rows): planning was about half of the server's CPU per
// order. One user's page is run the same way (the planner was 28% of the server's time serving
// pages), written so that only one plan is cheap (see k_list_orders_for_user_head). Everything
// else keeps the default — above all the admin's page over all orders: not knowing LIMIT $3 (it
// guesses 10% of the rows), its generic plan hash-joined a sequential scan of every order item.
pg::query generic(std::string_view sql, pg::params args) {
    return {sql, std::move(args), pg::plan_mode::generic};
}

}  // namespace

// ---------------------------------------------------------------- the wrapper

template <pg_order_store::lease_kind Kind, typename Result, typename... Args>
awaitable<Result> pg_order_store::run(
    awaitable<Result> (pg_order_store::*attempt)(pg::lease&, const Args&...),
    std::type_identity_t<Args>... args
) {
    for (int attempt_number = 1;; ++attempt_number) {
        try {
            auto lease = co_await checkout(Kind);
            co_return co_await (this->*attempt)(lease, args...);
        } catch (const db::error& e) {
            // A co_await cannot sit in a catch block: the retry is the next turn of the loop.
            if (!e.is_retryable() || attempt_number == k_max_attempts) rethrow_for_domain(e);
        }
    }
}

// ---------------------------------------------------------------- plumbing

awaitable<pg::lease> pg_order_store::checkout(lease_kind kind) {
    if (kind == lease_kind::writer) co_return co_await pool_.acquire_for_writes();
    co_return co_await pool_.acquire();
}

awaitable<pg::result> pg_order_store::execute(pg::lease& lease, std::string_view sql, pg::params args) {
    statements_sent_.fetch_add(1, std::memory_order_relaxed);
    co_return co_await lease.execute_params(sql, std::move(args));
}

awaitable<std::vector<pg::result>> pg_order_store::commit(
    pg::lease& lease, std::vector<pg::query> work, pg::transaction_start start
) {
    statements_sent_.fetch_add(pg::commit_checked_statements(work.size(), start), std::memory_order_relaxed);
    co_return co_await pg::commit_checked(pool_, std::move(lease), std::move(work), start);
}

awaitable<void> pg_order_store::rollback(pg::lease& lease) {
    pg::params none;  // GCC 12: named, see store_support.hpp
    co_await execute(lease, k_rollback, std::move(none));
}

awaitable<std::vector<pg::result>> pg_order_store::pipeline(
    pg::lease& lease, std::vector<pg::query> queries
) {
    statements_sent_.fetch_add(queries.size(), std::memory_order_relaxed);
    co_return co_await lease.pipeline(std::move(queries));
}

// ---------------------------------------------------------------- products

awaitable<std::variant<o::product, o::product_exists>> pg_order_store::create_product(
    o::new_product p, o::timestamp now
) {
    co_return co_await run<lease_kind::writer>(&pg_order_store::insert_product, std::move(p), now);
}

awaitable<std::variant<o::product, o::product_exists>> pg_order_store::insert_product(
    pg::lease& lease, const o::new_product& p, const o::timestamp& now
) {
    std::vector<pg::query> insert;
    insert.push_back({k_insert_product, {p.id, p.name, p.price_cents, p.stock, to_pg(now)}});
    auto results = co_await commit(lease, std::move(insert), pg::transaction_start::begin);
    const auto& rows = results.front();
    if (rows.empty()) co_return o::product_exists{};
    co_return product_from(rows[0]);
}

awaitable<std::optional<o::product>> pg_order_store::get_product(std::string id) {
    co_return co_await run<lease_kind::any>(&pg_order_store::select_product, std::move(id));
}

awaitable<std::optional<o::product>> pg_order_store::select_product(pg::lease& lease, const std::string& id) {
    pg::params args{id};
    auto rows = co_await execute(lease, k_select_product, std::move(args));
    if (rows.empty()) co_return std::nullopt;
    co_return product_from(rows[0]);
}

awaitable<std::optional<o::product>> pg_order_store::update_product(
    std::string id, o::product_patch patch, o::timestamp now
) {
    co_return co_await run<lease_kind::writer>(
        &pg_order_store::patch_product, std::move(id), std::move(patch), now
    );
}

awaitable<std::optional<o::product>> pg_order_store::patch_product(
    pg::lease& lease, const std::string& id, const o::product_patch& patch, const o::timestamp& now
) {
    std::vector<pg::query> update;
    update.push_back({k_update_product, {id, patch.name, patch.price_cents, patch.stock, to_pg(now)}});
    auto results = co_await commit(lease, std::move(update), pg::transaction_start::begin);
    const auto& rows = results.front();
    if (rows.empty()) co_return std::nullopt;
    co_return product_from(rows[0]);
}

awaitable<o::page<o::product>> pg_order_store::list_products(o::product_query query) {
    co_return co_await run<lease_kind::any>(&pg_order_store::select_products, std::move(query));
}

awaitable<o::page<o::product>> pg_order_store::select_products(
    pg::lease& lease, const o::product_query& query
) {
    // One row more than asked tells whether another page follows.
    const auto fetch = static_cast<std::int64_t>(query.limit) + 1;
    pg::params args{query.after_id.value_or(std::string()), fetch};
    auto rows = co_await execute(lease, k_list_products, std::move(args));
    std::vector<o::product> products;
    products.reserve(static_cast<std::size_t>(rows.rows()));
    for (int i = 0; i < rows.rows(); ++i) products.push_back(product_from(rows[i]));
    co_return page_of(std::move(products), query.limit);
}

// ---------------------------------------------------------------- create order

awaitable<o::create_order_result> pg_order_store::create_order(o::new_order order) {
    co_return co_await run<lease_kind::writer>(&pg_order_store::create_order_once, std::move(order));
}

awaitable<o::create_order_result> pg_order_store::create_order_once(
    pg::lease& lease, const o::new_order& order
) {
    if (order.idempotency) co_return co_await create_order_idempotent(lease, order);

    auto arrays = to_arrays(order.items);
    std::vector<pg::query> lock_and_create;
    lock_and_create.push_back(generic(k_lock_products, {arrays.product_ids}));
    lock_and_create.push_back(generic(
        k_create_order,
        {order.id, order.user_id, order.currency, arrays.product_ids, arrays.quantities, to_pg(order.now)}
    ));
    auto results = co_await commit(lease, std::move(lock_and_create), pg::transaction_start::begin);
    co_return outcome_of_create(results.back(), order);
}

awaitable<o::create_order_result> pg_order_store::create_order_idempotent(
    pg::lease& lease, const o::new_order& order
) {
    std::optional<claim_step> step;
    std::exception_ptr failure;
    try {
        step = co_await claim_and_create(lease, order);
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure) {
        // Still inside BEGIN (e.g. a render callback threw): end the transaction now, so that
        // its product locks, advisory lock and claim go at once rather than when the pool next
        // reuses the connection. When the connection itself broke, the server has rolled back.
        try {
            co_await rollback(lease);
        } catch (const db::error&) {
            // Nothing more to undo on a broken connection; the original failure matters.
        }
        std::rethrow_exception(failure);
    }
    if (step->store_answer) {
        std::vector<pg::query> store_answer;
        store_answer.push_back(std::move(*step->store_answer));
        co_await commit(lease, std::move(store_answer), pg::transaction_start::already_open);
    }
    co_return std::move(step->outcome);
}

awaitable<pg_order_store::claim_step> pg_order_store::claim_and_create(
    pg::lease& lease, const o::new_order& order
) {
    const auto& claim = *order.idempotency;
    auto arrays = to_arrays(order.items);
    std::vector<pg::query> claim_lock_create{{k_begin, {}}};
    const std::size_t claim_at = claim_lock_create.size();  // the claim; lock and create follow
    claim_lock_create.push_back(generic(
        k_claim_idempotency_key,
        {claim.caller, claim.key, claim.fingerprint, to_pg(order.now), to_pg(expiry_for(order.now))}
    ));
    claim_lock_create.push_back(
        generic(k_lock_products_claimed, {arrays.product_ids, claim.caller, claim.key})
    );
    claim_lock_create.push_back(generic(
        k_create_order_claimed,
        {order.id,
         order.user_id,
         order.currency,
         arrays.product_ids,
         arrays.quantities,
         to_pg(order.now),
         claim.caller,
         claim.key}
    ));
    auto results = co_await pipeline(lease, std::move(claim_lock_create));
    const auto& claimed = results.at(claim_at);
    if (claimed.empty()) throw std::logic_error("the idempotency claim returned no row");
    const auto head = claimed[0];

    if (!head.boolean(claim_cols::key_held)) {
        co_await rollback(lease);
        co_return claim_step{o::idempotency_in_flight{}, std::nullopt};
    }
    const int prior_answer = claim_cols::prior_answer;
    if (!head.is_null(prior_answer + idempotency_answer_cols::request_hash)) {
        co_await rollback(lease);
        co_return claim_step{stored_answer(head, prior_answer, claim.fingerprint), std::nullopt};
    }
    if (!head.boolean(claim_cols::claimed)) {
        // Lost the race described at k_claim_idempotency_key: the entry is committed now.
        co_await rollback(lease);
        pg::params args{claim.caller, claim.key, to_pg(order.now)};
        auto prior = co_await execute(lease, k_select_idempotency_key, std::move(args));
        // Purged meanwhile: let the client retry.
        if (prior.empty()) co_return claim_step{o::idempotency_in_flight{}, std::nullopt};
        co_return claim_step{stored_answer(prior[0], 0, claim.fingerprint), std::nullopt};
    }

    auto outcome = outcome_of_create(results.at(claim_at + 2), order);
    unsigned status = 201;
    std::string body;
    pg::param order_id = nullptr;
    if (const auto* refusal = std::get_if<o::stock_refusal>(&outcome)) {
        status = 400;
        body = claim.render_refused(*refusal);
    } else {
        const auto& created = std::get<o::order>(outcome);
        body = claim.render_created(created);
        order_id = created.id;
    }
    auto store_answer = generic(
        k_store_idempotent_answer, {claim.caller, claim.key, status, std::move(body), std::move(order_id)}
    );
    co_return claim_step{std::move(outcome), std::move(store_answer)};
}

// ---------------------------------------------------------------- read orders

awaitable<std::optional<o::order>> pg_order_store::get_order(std::string id) {
    co_return co_await run<lease_kind::any>(&pg_order_store::select_order, std::move(id));
}

awaitable<std::optional<o::order>> pg_order_store::select_order(pg::lease& lease, const std::string& id) {
    pg::params args{id};
    auto rows = co_await execute(lease, k_select_order, std::move(args));
    auto orders = orders_from(rows);
    if (orders.empty()) co_return std::nullopt;
    co_return std::move(orders.front());
}

awaitable<o::page<o::order>> pg_order_store::list_orders(o::order_query query) {
    co_return co_await run<lease_kind::any>(&pg_order_store::select_orders, std::move(query));
}

awaitable<o::page<o::order>> pg_order_store::select_orders(pg::lease& lease, const o::order_query& query) {
    std::vector<std::string> statuses;
    if (query.status) {
        statuses.emplace_back(o::to_string(*query.status));
    } else {
        for (const auto s : o::k_all_order_statuses) statuses.emplace_back(o::to_string(s));
    }
    const auto fetch = static_cast<std::int64_t>(query.limit) + 1;
    pg::params args{query.before_id.value_or(std::string(k_no_cursor)), statuses, fetch};
    std::string_view sql = k_list_orders;
    if (query.user_id) {
        args.emplace_back(*query.user_id);
        sql = k_list_orders_for_user;
    }
    // One user's page has a single good plan (k_list_orders_for_user_head); the admin's
    // page over all orders does not (see generic()) and is planned per execution.
    std::vector<pg::query> page;
    page.push_back({sql, std::move(args), query.user_id ? pg::plan_mode::generic : pg::plan_mode::automatic});
    auto results = co_await pipeline(lease, std::move(page));
    co_return page_of(orders_from(results.front()), query.limit);
}

// ---------------------------------------------------------------- change orders

awaitable<o::replace_items_result> pg_order_store::replace_items(o::replace_items_request request) {
    co_return co_await run<lease_kind::writer>(&pg_order_store::replace_items_once, std::move(request));
}

awaitable<o::replace_items_result> pg_order_store::replace_items_once(
    pg::lease& lease, const o::replace_items_request& request
) {
    auto arrays = to_arrays(request.items);
    std::vector<pg::query> lock_and_replace;
    lock_and_replace.push_back(generic(k_lock_order, {request.order_id}));
    lock_and_replace.push_back(generic(k_lock_products_for_replace, {request.order_id, arrays.product_ids}));
    lock_and_replace.push_back(generic(
        k_replace_items,
        {request.order_id,
         request.owner,
         request.expected_version,
         arrays.product_ids,
         arrays.quantities,
         to_pg(request.now)}
    ));
    auto results = co_await commit(lease, std::move(lock_and_replace), pg::transaction_start::begin);
    co_return outcome_of_replace(results.back());
}

awaitable<o::transition_result> pg_order_store::transition(o::transition_request request) {
    co_return co_await run<lease_kind::writer>(&pg_order_store::transition_once, std::move(request));
}

awaitable<o::transition_result> pg_order_store::transition_once(
    pg::lease& lease, const o::transition_request& request
) {
    std::vector<pg::query> lock_and_move;
    lock_and_move.push_back(generic(k_lock_order, {request.order_id}));
    if (request.restock) lock_and_move.push_back(generic(k_lock_order_products, {request.order_id}));
    lock_and_move.push_back(generic(
        k_transition,
        {request.order_id,
         request.owner,
         request.expected_version,
         status_names(request.from),
         std::string(o::to_string(request.to)),
         request.restock,
         to_pg(request.now)}
    ));
    auto results = co_await commit(lease, std::move(lock_and_move), pg::transaction_start::begin);
    co_return outcome_of_transition(results.back());
}

// ---------------------------------------------------------------- housekeeping

awaitable<std::size_t> pg_order_store::purge_idempotency_keys(o::timestamp created_before) {
    co_return co_await run<lease_kind::any>(&pg_order_store::delete_expired_keys, created_before);
}

awaitable<std::size_t> pg_order_store::delete_expired_keys(
    pg::lease& lease, const o::timestamp& created_before
) {
    // Every entry expires k_idempotency_ttl after its creation, and expires_at is indexed.
    pg::params args{to_pg(expiry_for(created_before)), k_purge_batch};
    auto result = co_await execute(lease, k_purge_idempotency_keys, std::move(args));
    co_return static_cast<std::size_t>(result.affected_rows());
}

}  // namespace svc::db
