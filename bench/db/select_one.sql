-- pgbench's side of bench/db/compare-pgbench: the same single-row SELECT that db_bench runs
-- (the order row of GET /orders/{id}), a random existing order per transaction.
\set n random(1, :norders)
SELECT id, user_id, status, currency, total_cents, version, created_at, updated_at FROM orders WHERE id = (SELECT id FROM bench_order_ids WHERE n = :n);
