-- The consumer's hot path in PostgreSQL (issue 15): measured per statement with `benchmarks.profile_batch`.
--
-- The persona stage's own documents are stored as json, not jsonb: only the stage reads them, whole, as text
-- (`persona_state::text`, `contribution::text`), and writes them whole. jsonb parsed each one into its binary form
-- on the way in and printed it back on the way out (about 15 us of PostgreSQL CPU per order); json keeps the text
-- as it came (still validated). `customers.persona`, which queries look into, stays jsonb.
ALTER TABLE customers ALTER COLUMN persona_state DROP DEFAULT;
ALTER TABLE customers ALTER COLUMN persona_state TYPE json USING persona_state::json;
ALTER TABLE customers ALTER COLUMN persona_state SET DEFAULT '{}';
ALTER TABLE persona_deltas ALTER COLUMN contribution TYPE json USING contribution::json;

-- The foreign key of order lines to their order, checked by a trigger per line (a query and a row lock apiece):
-- about half of the lines upsert (measured: 31 -> 15 us of PostgreSQL CPU per order of 2 lines). It cannot fail
-- on the consumer's path: `write_plan` writes an order's lines only with the order (it checks), and nothing
-- deletes orders. (The orders' key to `tenants` stays: dropping it measured no difference.)
ALTER TABLE order_lines DROP CONSTRAINT order_lines_tenant_id_order_no_fkey;
