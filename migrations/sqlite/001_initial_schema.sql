-- 001: the contract's resources, SQLite dialect. Same tables, columns, keys and invariants
-- as migrations/postgresql/001_initial_schema.sql. Differences, all deliberate:
--   * times are INTEGER microseconds since the Unix epoch, UTC (exact, sortable);
--   * uuids are TEXT in the canonical lower-case 8-4-4-4-12 form;
--   * STRICT tables, so a value of the wrong type is refused instead of coerced.

CREATE TABLE products (
    id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    price_cents INTEGER NOT NULL CHECK (price_cents BETWEEN 0 AND 1000000000),
    stock INTEGER NOT NULL CHECK (stock >= 0),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE orders (
    id TEXT PRIMARY KEY CHECK (length(id) = 36),
    user_id TEXT NOT NULL CHECK (length(user_id) BETWEEN 1 AND 128),
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
    version INTEGER NOT NULL CHECK (version >= 1),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX ix_orders_user_id_id ON orders (user_id, id DESC);

CREATE TABLE order_items (
    order_id TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id TEXT NOT NULL REFERENCES products (id),
    quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    line_total_cents INTEGER NOT NULL CHECK (line_total_cents = quantity * unit_price_cents),
    PRIMARY KEY (order_id, product_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash TEXT NOT NULL,
    status_code INTEGER CHECK (status_code BETWEEN 100 AND 599),
    response_body TEXT,
    order_id TEXT REFERENCES orders (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, key),
    CHECK (expires_at > created_at)
) STRICT, WITHOUT ROWID;
CREATE INDEX ix_idempotency_keys_expires_at ON idempotency_keys (expires_at);
