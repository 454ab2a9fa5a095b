"""Every SQL statement of the ingest service, by name. Set-based: one statement per batch, keys sorted.

Arrays are passed column by column and expanded with `unnest`; jsonb values are Python values (the pool's codec),
except JSON arrays, which go in as text (`::jsonb`): a list of lists would be taken for a 2-D array, and the persona
deltas, states and personas of the persona stage, which go in and out as text encoded by orjson (the hot path's
largest JSON volume); the deltas and states into `json` columns (migration 0012: no jsonb parse on the way in,
no print on the way out). Orders and their lines, the widest writes, go in as one JSON array of rows each
(`INSERT_ORDERS`, `UPDATE_ORDERS`, `INSERT_LINES`, `UPSERT_LINES`).
"""

# --- tenants -------------------------------------------------------------------------------------------------------

INSERT_TENANT = "INSERT INTO tenants (id, name) VALUES ($1, $2)"  # its keys: api_keys (below)
EXISTING_TENANTS = "SELECT id FROM tenants WHERE id = ANY($1::uuid[])"

# --- orders: read and lock ---------------------------------------------------------------------------------------

# The columns of `orders` the consumer reads (`OrderRow`'s fields, in its order) and their array types: this list
# builds the statements below, the row mapping and the values (`order_store`).
ORDER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("tenant_id", "uuid"),
    ("order_no", "text"),
    ("source", "text"),
    ("status", "text"),
    ("status_raw", "text"),
    ("order_time", "timestamptz"),
    ("payment_time", "timestamptz"),
    ("store_key", "text"),
    ("store", "jsonb"),
    ("customer_id", "uuid"),
    ("matched_by", "text"),
    ("buyer", "jsonb"),
    ("receiver", "jsonb"),
    ("order_amount", "numeric"),
    ("paid_amount", "numeric"),
    ("total_amount", "numeric"),
    ("remark", "text"),
    ("version", "int"),
    ("digest", "bytea"),  # of the message that wrote the order (migration 0013); not content
)
# Written with every order, never read back into the plan.
ORDER_WRITE_COLUMNS = (*ORDER_COLUMNS, ("last_import_id", "uuid"), ("producer", "text"))
_ORDER_KEY = ("tenant_id", "order_no")

LOCK_ORDERS = f"""
SELECT {", ".join(f"o.{name}" for name, _ in ORDER_COLUMNS)}
FROM orders o
JOIN unnest($1::uuid[], $2::text[]) AS k (tenant_id, order_no) USING (tenant_id, order_no)
ORDER BY o.tenant_id, o.order_no
FOR UPDATE OF o
"""

READ_ORDERS = LOCK_ORDERS.replace("FOR UPDATE OF o", "")

# The stored orders among (tenant, order no., digest) written by the message of that digest (the first 16 bytes of
# `orders.digest`: the deliveries applied follow it, `domain.deliveries`), with their customer's
# identifiers: what the redelivery pre-filter decides on (`domain.redelivery`). Not locked: a record it answers
# `unchanged` writes nothing, so it is decided as of this read, before any transaction that changes the order later.
REDELIVERED_ORDERS = """
SELECT o.tenant_id, o.order_no, k.digest, o.matched_by, c.id, c.sobot_customer_id, c.mobile, c.unionid, c.nickname
FROM orders o
JOIN unnest($1::uuid[], $2::text[], $3::bytea[]) AS k (tenant_id, order_no, digest) USING (tenant_id, order_no)
JOIN customers c ON c.tenant_id = o.tenant_id AND c.id = o.customer_id
WHERE substring(o.digest FROM 1 FOR 16) = k.digest
"""

LINES_OF_ORDERS = """
SELECT l.tenant_id, l.order_no, l.product_id, l.sku, l.product_name, l.quantity, l.unit_price, l.line_amount
FROM order_lines l
JOIN unnest($1::uuid[], $2::text[]) AS k (tenant_id, order_no) USING (tenant_id, order_no)
"""

CANDIDATE_CUSTOMERS = """
SELECT id, sobot_customer_id, mobile, unionid, nickname
FROM customers
WHERE tenant_id = $1
  AND (sobot_customer_id = ANY($2::text[]) OR mobile = ANY($3::text[]) OR unionid = ANY($4::text[])
       OR id = ANY($5::uuid[]))
"""

# --- orders: write -------------------------------------------------------------------------------------------------


def _from_json(i: int, kind: str) -> str:
    """Element `i` of a JSON array `r` as a value of `kind` (jsonb: the object, SQL NULL for JSON null; bytea: hex)."""
    if kind == "jsonb":
        return f"nullif(r->{i}, 'null')"
    if kind == "bytea":
        return f"decode(r->>{i}, 'hex')"
    return f"(r->>{i})::{kind}"


def _json_values(columns: tuple[tuple[str, str], ...]) -> str:
    """The values of `columns` from a row `r` of JSON array $1 (an array of values, in the order of `columns`)."""
    return ", ".join(_from_json(i, kind) for i, (_, kind) in enumerate(columns))


def _names(columns: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(name for name, _ in columns)


def _json_rows(columns: tuple[tuple[str, str], ...]) -> str:
    """A subquery `u` of the rows of JSON array $1 (one array of values per row, in the order of `columns`)."""
    return f"(SELECT {_json_values(columns)} FROM jsonb_array_elements($1::text::jsonb) AS r) AS u ({_names(columns)})"


# Orders and lines go in as one JSON array of rows (one orjson call; PostgreSQL parses it once), not as an array
# per column: asyncpg's array encoder checks every element's type in Python, and the jsonb codec printed each
# document with `json.dumps` (measured, 1,000 orders of 2 lines: orders 34 -> 10 µs of Python per order, lines
# 25 -> 7, PostgreSQL about the same). Values as orjson writes them (`order_store._json_value` for the rest).
#
# New orders (not stored when the round locked its orders) are inserted, stored ones (locked) updated: a plain
# INSERT, not `INSERT ... ON CONFLICT DO UPDATE` for both, which paid a speculative insertion per row (a probe of
# the key, a token, a confirmation record) and more for the lines (measured per created order: orders about 2 µs,
# lines about 4 µs of PostgreSQL CPU). A new order another transaction inserted meanwhile (two consumers applying
# the same records during a rebalance) fails the insert on `orders_pkey`, after waiting for that transaction:
# the round is rolled back to its savepoint and planned again over the committed order
# (`storage.concurrent_inserts`).
INSERT_ORDERS = f"""
INSERT INTO orders ({_names(ORDER_WRITE_COLUMNS)})
SELECT {_json_values(ORDER_WRITE_COLUMNS)}
FROM jsonb_array_elements($1::text::jsonb) AS r
ORDER BY 1, 2
"""

UPDATE_ORDERS = f"""
UPDATE orders o SET
    {", ".join(f"{name} = u.{name}" for name, _ in ORDER_WRITE_COLUMNS if name not in _ORDER_KEY)},
    updated_at = now()
FROM {_json_rows(ORDER_WRITE_COLUMNS)}
WHERE o.tenant_id = u.tenant_id AND o.order_no = u.order_no
"""

LINE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("tenant_id", "uuid"),
    ("order_no", "text"),
    ("product_id", "text"),
    ("sku", "text"),
    ("product_name", "text"),
    ("quantity", "int"),
    ("unit_price", "numeric"),
    ("line_amount", "numeric"),
)

# The lines of new orders: none is stored (lines are only written with their order, and nothing deletes orders).
INSERT_LINES = f"""
INSERT INTO order_lines ({_names(LINE_COLUMNS)})
SELECT {_json_values(LINE_COLUMNS)}
FROM jsonb_array_elements($1::text::jsonb) AS r
ORDER BY 1, 2, 3, 4
"""

# The lines of stored orders, new or changed.
UPSERT_LINES = f"""
INSERT INTO order_lines ({_names(LINE_COLUMNS)})
SELECT {_json_values(LINE_COLUMNS)}
FROM jsonb_array_elements($1::text::jsonb) AS r
ORDER BY 1, 2, 3, 4
ON CONFLICT (tenant_id, order_no, product_id, sku) DO UPDATE SET
    product_name = EXCLUDED.product_name, quantity = EXCLUDED.quantity, unit_price = EXCLUDED.unit_price,
    line_amount = EXCLUDED.line_amount, updated_at = now()
"""

# Orders the round did not write: only the Kafka records they had applied (`domain.deliveries`); not content.
NOTE_DELIVERIES = """
UPDATE orders o SET digest = u.digest
FROM unnest($1::uuid[], $2::text[], $3::bytea[]) AS u (tenant_id, order_no, digest)
WHERE o.tenant_id = u.tenant_id AND o.order_no = u.order_no
"""

DELETE_LINES = """
DELETE FROM order_lines l
USING unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS d(tenant_id, order_no, product_id, sku)
WHERE (l.tenant_id, l.order_no, l.product_id, l.sku) = (d.tenant_id, d.order_no, d.product_id, d.sku)
"""

# Stores and products: the rows a batch names are mostly stored already and unchanged. Those are filtered out
# before the insert: `ON CONFLICT DO UPDATE ... WHERE` would lock each (a WAL record apiece) until the batch
# commits, and a second consumer naming the same store or product would wait for that commit.
STORE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("tenant_id", "uuid"),
    ("store_key", "text"),
    ("source", "text"),
    ("store_no", "text"),
    ("store_id", "text"),
    ("name", "text"),
)


# Stores, products, new customers and status history go in as one JSON array of rows each too (as orders and lines
# do): asyncpg's array encoder checks each element's type in Python (measured: about 1 µs per value).
UPSERT_STORES = f"""
INSERT INTO stores AS s (tenant_id, store_key, source, store_no, store_id, name)
SELECT u.* FROM {_json_rows(STORE_COLUMNS)}
WHERE NOT EXISTS (SELECT FROM stores t WHERE t.tenant_id = u.tenant_id AND t.store_key = u.store_key
                  AND (t.source, t.store_no, t.store_id, t.name)
                      IS NOT DISTINCT FROM (u.source, u.store_no, u.store_id, coalesce(u.name, t.name)))
ORDER BY 1, 2
ON CONFLICT (tenant_id, store_key) DO UPDATE SET
    source = EXCLUDED.source, store_no = EXCLUDED.store_no, store_id = EXCLUDED.store_id,
    name = coalesce(EXCLUDED.name, s.name), updated_at = now()
WHERE (s.source, s.store_no, s.store_id, s.name)
      IS DISTINCT FROM (EXCLUDED.source, EXCLUDED.store_no, EXCLUDED.store_id, coalesce(EXCLUDED.name, s.name))
"""

PRODUCT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("tenant_id", "uuid"),
    ("product_id", "text"),
    ("sku", "text"),
    ("name", "text"),
    ("unit_price", "numeric"),
)

UPSERT_PRODUCTS = f"""
INSERT INTO products AS p (tenant_id, product_id, sku, name, unit_price)
SELECT u.* FROM {_json_rows(PRODUCT_COLUMNS)}
WHERE NOT EXISTS (SELECT FROM products q
                  WHERE q.tenant_id = u.tenant_id AND q.product_id = u.product_id AND q.sku = u.sku
                    AND (q.name, q.unit_price) IS NOT DISTINCT FROM (coalesce(u.name, q.name), u.unit_price))
ORDER BY 1, 2, 3
ON CONFLICT (tenant_id, product_id, sku) DO UPDATE SET
    name = coalesce(EXCLUDED.name, p.name), unit_price = EXCLUDED.unit_price, updated_at = now()
WHERE (p.name, p.unit_price) IS DISTINCT FROM (coalesce(EXCLUDED.name, p.name), EXCLUDED.unit_price)
"""

HISTORY_COLUMNS: tuple[tuple[str, str], ...] = (("tenant_id", "uuid"), ("order_no", "text"), ("status", "text"))

INSERT_STATUS_HISTORY = f"""
INSERT INTO order_status_history (tenant_id, order_no, status)
SELECT u.* FROM {_json_rows(HISTORY_COLUMNS)}
ON CONFLICT DO NOTHING
"""

# --- customers -----------------------------------------------------------------------------------------------------

CUSTOMER_COLUMNS: tuple[tuple[str, str], ...] = (
    ("tenant_id", "uuid"),
    ("id", "uuid"),
    ("sobot_customer_id", "text"),
    ("mobile", "text"),
    ("unionid", "text"),
    ("nickname", "text"),
)

INSERT_CUSTOMERS = f"""
INSERT INTO customers (tenant_id, id, sobot_customer_id, mobile, unionid, nickname)
SELECT u.* FROM {_json_rows(CUSTOMER_COLUMNS)}
ORDER BY 1, 2
"""

ADD_CUSTOMER_IDENTIFIERS = """
UPDATE customers c SET
    sobot_customer_id = coalesce(c.sobot_customer_id, u.sobot_customer_id),
    mobile = coalesce(c.mobile, u.mobile),
    unionid = coalesce(c.unionid, u.unionid),
    nickname = coalesce(c.nickname, u.nickname),
    updated_at = now()
FROM (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
      ORDER BY 1, 2) AS u (tenant_id, id, sobot_customer_id, mobile, unionid, nickname)
WHERE c.tenant_id = u.tenant_id AND c.id = u.id
"""

# The customers a batch added identifiers to, a revision more each (migration 0018), as their customers.updated.v1
# events show them: the identifiers now, the persona as last announced. A customer never folded (persona '{}', created
# by this batch or one whose fold is pending) is not: its first fold announces it, with the identifiers it has then.
ANNOUNCE_CUSTOMERS = """
UPDATE customers c SET revision = c.revision + 1
FROM (SELECT * FROM unnest($1::uuid[], $2::uuid[]) ORDER BY 1, 2) AS k (tenant_id, id)
WHERE c.tenant_id = k.tenant_id AND c.id = k.id AND c.persona <> '{}'::jsonb
RETURNING c.tenant_id, c.id, c.sobot_customer_id, c.mobile, c.unionid, c.nickname, c.persona::text, c.revision
"""

RECORD_IDENTITY_CONFLICTS = """
INSERT INTO identity_conflicts (tenant_id, order_no, customer_id, identifier, value, held_by)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::uuid[])
ON CONFLICT (tenant_id, order_no, identifier) DO UPDATE SET
    customer_id = EXCLUDED.customer_id, value = EXCLUDED.value, held_by = EXCLUDED.held_by, recorded_at = now()
"""

# --- persona: aggregates of each touched customer's orders ----------------------------------------------------------

_CUSTOMER_ORDERS = """
WITH k AS (SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS k (tenant_id, customer_id)),
     o AS (SELECT o.* FROM orders o JOIN k USING (tenant_id, customer_id))
"""

# One pass over the customers' orders, three groupings: per customer (totals), per status, per store.
# `grouping` tells them apart: 3 = totals, 1 = by status, 2 = by store.
PERSONA_AGGREGATES = (
    _CUSTOMER_ORDERS
    + """
SELECT tenant_id, customer_id, status, store_label, GROUPING(status, store_label) AS grouping,
       count(*) AS order_count,
       count(*) FILTER (WHERE status = ANY($3::text[])) AS paid_order_count,
       coalesce(sum(total_amount) FILTER (WHERE status <> 'deal_closed'), 0) AS total_amount,
       coalesce(sum(coalesce(paid_amount, total_amount)) FILTER (WHERE status = ANY($3::text[])), 0) AS total_paid,
       min(order_time) AS first_order_time,
       max(order_time) AS last_order_time,
       max(coalesce(payment_time, order_time)) FILTER (WHERE status = ANY($3::text[])) AS last_paid_time,
       array_agg(DISTINCT source) AS sources
FROM (SELECT o.*, coalesce(o.store->>'name', o.store_key) AS store_label FROM o) AS x
GROUP BY GROUPING SETS ((tenant_id, customer_id), (tenant_id, customer_id, status),
                        (tenant_id, customer_id, store_label))
"""
)

PERSONA_PRODUCTS = (
    _CUSTOMER_ORDERS
    + """
SELECT o.tenant_id, o.customer_id, l.product_id, sum(l.quantity) AS quantity,
       max(l.product_name COLLATE "C") AS name
FROM o JOIN order_lines l USING (tenant_id, order_no)
WHERE o.status <> 'deal_closed'
GROUP BY 1, 2, 3
"""
)

CUSTOMERS_BY_ID = """
SELECT c.tenant_id, c.id, c.sobot_customer_id, c.mobile, c.unionid, c.nickname, c.persona, c.revision
FROM customers c JOIN unnest($1::uuid[], $2::uuid[]) AS k (tenant_id, id) USING (tenant_id, id)
ORDER BY 1, 2
"""

UPDATE_PERSONAS = """
UPDATE customers c SET persona = u.persona, persona_digest = u.digest, revision = u.revision, updated_at = now()
FROM (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::jsonb[], $4::bytea[], $5::bigint[]) ORDER BY 1, 2)
     AS u (tenant_id, id, persona, digest, revision)
WHERE c.tenant_id = u.tenant_id AND c.id = u.id
"""

# --- persona by deltas (see `domain.persona_deltas` and `application.personas`) --------------------------------------

INSERT_PERSONA_DELTAS = """
INSERT INTO persona_deltas (tenant_id, customer_id, sign, contribution)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::smallint[], $4::text[]::json[])
"""

# The stored persona is read only when its digest is not stored (migration 0019): the digest tells whether it changed.
_CLAIMED_COLUMNS = (
    "c.tenant_id, c.id, c.sobot_customer_id, c.mobile, c.unionid, c.nickname, c.persona_digest, "
    "CASE WHEN c.persona_digest IS NULL THEN c.persona::text END, c.persona_state::text, c.revision"
)

# The customers with deltas, oldest delta first; those another stage holds are skipped, never waited for.
CLAIM_DIRTY_CUSTOMERS = f"""
SELECT {_CLAIMED_COLUMNS}
FROM customers c
JOIN (SELECT tenant_id, customer_id FROM persona_deltas GROUP BY 1, 2 ORDER BY min(id) LIMIT $1) AS d
  ON c.tenant_id = d.tenant_id AND c.id = d.customer_id
ORDER BY 1, 2
FOR UPDATE OF c SKIP LOCKED
"""

# The same among the given customers (those a batch just touched).
CLAIM_CUSTOMERS = f"""
SELECT {_CLAIMED_COLUMNS}
FROM customers c
JOIN unnest($1::uuid[], $2::uuid[]) AS k (tenant_id, id) USING (tenant_id, id)
WHERE EXISTS (SELECT FROM persona_deltas d WHERE d.tenant_id = c.tenant_id AND d.customer_id = c.id)
ORDER BY 1, 2
FOR UPDATE OF c SKIP LOCKED
"""

TAKE_PERSONA_DELTAS = """
DELETE FROM persona_deltas d
USING unnest($1::uuid[], $2::uuid[]) AS k (tenant_id, customer_id)
WHERE d.tenant_id = k.tenant_id AND d.customer_id = k.customer_id
RETURNING d.tenant_id, d.customer_id, d.sign, d.contribution::text,
          extract(epoch FROM clock_timestamp() - d.created_at)::float8 AS lag_s
"""

# A customer's orders and their lines, for the rare fold that must recompute from scratch.
ORDERS_OF_CUSTOMERS = """
SELECT o.tenant_id, o.customer_id, o.order_no, o.status, o.source, coalesce(o.store->>'name', o.store_key) AS store,
       o.order_time, o.payment_time, o.total_amount, o.paid_amount
FROM orders o JOIN unnest($1::uuid[], $2::uuid[]) AS k (tenant_id, customer_id) USING (tenant_id, customer_id)
"""

LINES_OF_CUSTOMERS = """
SELECT l.tenant_id, l.order_no, l.product_id, l.quantity, l.product_name
FROM orders o
JOIN unnest($1::uuid[], $2::uuid[]) AS k (tenant_id, customer_id) USING (tenant_id, customer_id)
JOIN order_lines l ON l.tenant_id = o.tenant_id AND l.order_no = o.order_no
"""

# `revision`: the stored one, or one more for a customer whose persona changed (migration 0018).
STORE_PERSONAS = """
UPDATE customers c SET
    persona = u.persona, persona_digest = u.digest, persona_state = u.state, revision = u.revision, updated_at = now()
FROM (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[]::jsonb[], $4::bytea[], $5::text[]::json[], $6::bigint[])
    ORDER BY 1, 2
) AS u (tenant_id, id, persona, digest, state, revision)
WHERE c.tenant_id = u.tenant_id AND c.id = u.id
"""

# --- imports -------------------------------------------------------------------------------------------------------

INSERT_IMPORT = """
INSERT INTO imports (tenant_id, id, filename, mode, timezone, state, rows_total, rows_valid, rows_invalid,
                     orders_total, orders_held_back, header, first_errors, warnings, failure, completed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, CASE WHEN $16 THEN now() END)
"""

INSERT_IMPORT_ROWS = """
INSERT INTO import_rows (tenant_id, import_id, row_no, order_no, cells, outcome, issues, warnings, error_columns)
SELECT $1, $2, r.row_no, r.order_no, r.cells::jsonb, r.outcome, r.issues, r.warnings,
       string_to_array(r.error_columns, E'\x1f')
FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
     AS r (row_no, order_no, cells, outcome, issues, warnings, error_columns)
"""

# What `domain.progress.import_state` decides an import's state from: each statement that moves a counter returns it.
IMPORT_COUNTS = (
    "i.tenant_id, i.id, i.state, i.orders_total, i.orders_published, i.orders_processed, "
    "i.dead_lettered, i.rejected, i.rows_invalid"
)

MARK_IMPORT_PUBLISHED = f"""
UPDATE imports i SET orders_published = $3, updated_at = now()
WHERE i.tenant_id = $1 AND i.id = $2
RETURNING {IMPORT_COUNTS}
"""

# The states `import_state` gave (in the transaction that moved the counters, which holds the rows' locks);
# completed_at is set once, when the import is first done.
SET_IMPORT_STATES = """
UPDATE imports i SET state = s.state, updated_at = now(),
       completed_at = CASE WHEN s.done THEN coalesce(i.completed_at, now()) END
FROM (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bool[]) ORDER BY 1, 2)
     AS s (tenant_id, id, state, done)
WHERE i.tenant_id = s.tenant_id AND i.id = s.id
"""

FAIL_IMPORT = """
UPDATE imports SET state = 'failed', failure = $3, updated_at = now(), completed_at = now()
WHERE tenant_id = $1 AND id = $2
"""

# Some orders were acknowledged, some not: the published ones land and are counted (ADVANCE_IMPORTS counts on
# failed imports too), the rows of the others say so in the result workbook.
FAIL_IMPORT_PUBLISHING = """
UPDATE imports SET state = 'failed', failure = $3, orders_published = $4, updated_at = now(), completed_at = now()
WHERE tenant_id = $1 AND id = $2
"""

MARK_ROWS_NOT_PUBLISHED = """
UPDATE import_rows SET outcome = 'not_published'
WHERE tenant_id = $1 AND import_id = $2 AND order_no = ANY($3::text[]) AND outcome = 'queued'
"""

# An upload answers 202 only after every order was published (then `orders_published = orders_total`); a job
# short of that long after its upload belongs to an API process that died mid-publish.
FAIL_INTERRUPTED_IMPORTS = """
UPDATE imports SET state = 'failed', updated_at = now(), completed_at = now(),
       failure = 'the upload was interrupted before all its orders were published: upload the file again '
                 '(orders already stored come out unchanged)'
WHERE state IN ('queued', 'processing') AND orders_published < orders_total AND created_at < now() - $1::interval
RETURNING tenant_id, id
"""

IMPORT_OWNERS = "SELECT id, tenant_id FROM imports WHERE id = ANY($1::uuid[])"

# An order counts toward an import only when that import published it (one of its rows is `queued` with that
# order no.), and only once (`import_orders` has one row per import and order).
# An order's first outcome stands, except that applying it supersedes a dead letter: a record naming the import
# (a broken copy from another producer) may be dead-lettered before the import's own message is applied.
RECORD_IMPORT_ORDERS = """
INSERT INTO import_orders (tenant_id, import_id, order_no, outcome, detail)
SELECT k.* FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[])
     AS k (tenant_id, import_id, order_no, outcome, detail)
WHERE EXISTS (SELECT FROM import_rows r
              WHERE r.tenant_id = k.tenant_id AND r.import_id = k.import_id AND r.order_no = k.order_no
                AND r.outcome = 'queued')
ORDER BY 1, 2, 3
ON CONFLICT (tenant_id, import_id, order_no) DO UPDATE SET outcome = EXCLUDED.outcome, detail = EXCLUDED.detail
    WHERE import_orders.outcome = 'dead_lettered' AND EXCLUDED.outcome <> 'dead_lettered'
RETURNING tenant_id, import_id, outcome, xmax <> 0 AS superseded
"""

# A failed import stays failed, but what lands of it is still counted: its counters agree with what is stored.
ADVANCE_IMPORTS = f"""
UPDATE imports i SET
    orders_processed = i.orders_processed + d.processed,
    created = i.created + d.created, updated = i.updated + d.updated, unchanged = i.unchanged + d.unchanged,
    stale_status = i.stale_status + d.stale, dead_lettered = i.dead_lettered + d.dead,
    rejected = i.rejected + d.rejected, updated_at = now()
FROM (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::int[], $5::int[], $6::int[], $7::int[], $8::int[],
                           $9::int[])
      ORDER BY 1, 2) AS d (tenant_id, import_id, processed, created, updated, unchanged, stale, dead, rejected)
WHERE i.tenant_id = d.tenant_id AND i.id = d.import_id
RETURNING {IMPORT_COUNTS}
"""

IMPORT_BY_ID = "SELECT * FROM imports WHERE tenant_id = $1 AND id = $2"

# Errors: the row's, and why the consumer rejected or dead-lettered its order; warnings: the row's, and why a
# stale status was not applied. (What a created or updated order's detail says stays in import_orders.)
IMPORT_ROW_OUTCOMES = """
SELECT r.row_no, r.cells, coalesce(o.outcome, r.outcome) AS outcome, r.issues, coalesce(o.detail, '') AS detail,
       r.warnings, r.error_columns
FROM import_rows r
LEFT JOIN import_orders o ON o.tenant_id = r.tenant_id AND o.import_id = r.import_id AND o.order_no = r.order_no
     AND r.outcome = 'queued'
WHERE r.tenant_id = $1 AND r.import_id = $2
ORDER BY r.row_no
"""

# --- lifecycle sweep: personas whose stage changes with time alone ----------------------------------------------------

# A transaction-scoped advisory lock: one sweep at a time across every consumer process.
TRY_SWEEP_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext('orderinfo.lifecycle_sweep'))"

# Active customers whose last paid (else last) order is older than $1; locked, skipping those a batch holds.
# The cast runs per row: a sweep scans the customers (hourly by default), never the orders.
LIFECYCLE_CANDIDATES = """
SELECT tenant_id, id FROM customers
WHERE persona->>'lifecycle_stage' IN ('new', 'repeat')
  AND coalesce(persona->>'last_paid_time', persona->>'last_order_time')::timestamptz < $1
ORDER BY tenant_id, id
LIMIT $2
FOR UPDATE SKIP LOCKED
"""

# --- API keys (migration 0009) --------------------------------------------------------------------------------------

INSERT_API_KEY = """
INSERT INTO api_keys (id, tenant_id, name, key_hash, scopes, replaces)
VALUES ($1, $2, $3, $4, $5::text[], $6)
RETURNING id, tenant_id, name, scopes, created_at, expires_at, revoked_at, last_used_at, replaces, 'active' AS state
"""
# The key's principal; `stale` when its last use was recorded over a minute ago (then `TOUCH_API_KEY`).
_ACTIVE_KEY = """
SELECT k.id, k.tenant_id, t.name AS tenant_name, k.name, k.scopes, t.push_orders_per_second, t.import_rows_per_hour,
       (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute') AS stale
FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
WHERE {which} AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
"""
KEY_BY_HASH = _ACTIVE_KEY.format(which="k.key_hash = $1")
KEY_BY_ID = _ACTIVE_KEY.format(which="k.tenant_id = $1 AND k.id = $2")  # a console session's key, still active
TOUCH_API_KEY = """
UPDATE api_keys SET last_used_at = now()
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
"""
_KEY_COLUMNS = """id, tenant_id, name, scopes, created_at, expires_at, revoked_at, last_used_at, replaces,
CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at <= now() THEN 'expired'
     WHEN expires_at IS NOT NULL THEN 'expiring' ELSE 'active' END AS state"""
LIST_API_KEYS = f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id"
API_KEY = f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2"
API_KEY_FOR_UPDATE = API_KEY + " FOR UPDATE"
# The old key of a rotation works until the overlap ends (never longer than it would have anyway).
EXPIRE_API_KEY = """
UPDATE api_keys SET expires_at = LEAST(coalesce(expires_at, 'infinity'), now() + make_interval(secs => $3))
WHERE tenant_id = $1 AND id = $2
"""
REVOKE_API_KEY = f"""
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE tenant_id = $1 AND id = $2
RETURNING {_KEY_COLUMNS}
"""
TENANT_EXISTS = "SELECT name FROM tenants WHERE id = $1"
SET_TENANT_QUOTAS = "UPDATE tenants SET push_orders_per_second = $2, import_rows_per_hour = $3 WHERE id = $1"

# --- pushed batches by Idempotency-Key (migration 0009) -------------------------------------------------------------

CLAIM_PUSH_REQUEST = """
INSERT INTO push_requests AS p (tenant_id, idempotency_key, body_sha256, state) VALUES ($1, $2, $3, 'in_progress')
ON CONFLICT (tenant_id, idempotency_key) DO UPDATE
SET body_sha256 = EXCLUDED.body_sha256, state = 'in_progress', response = NULL, created_at = now()
WHERE p.created_at < now() - make_interval(secs => $4)
   OR (p.state = 'in_progress' AND p.created_at < now() - make_interval(secs => $5))
RETURNING true
"""
PUSH_REQUEST = """
SELECT body_sha256, response FROM push_requests WHERE tenant_id = $1 AND idempotency_key = $2
"""
COMPLETE_PUSH_REQUEST = """
UPDATE push_requests SET state = 'completed', status = 202, response = $3::jsonb
WHERE tenant_id = $1 AND idempotency_key = $2
"""
RELEASE_PUSH_REQUEST = """
DELETE FROM push_requests WHERE tenant_id = $1 AND idempotency_key = $2 AND state = 'in_progress'
"""
PURGE_PUSH_REQUESTS = """
WITH old AS (SELECT ctid FROM push_requests WHERE created_at < now() - make_interval(secs => $1) LIMIT $2)
, gone AS (DELETE FROM push_requests p USING old WHERE p.ctid = old.ctid RETURNING 1)
SELECT count(*) FROM gone
"""
# Rows of the tenant's imports recorded within the last hour, and when the oldest of them leaves that hour.
IMPORT_ROWS_LAST_HOUR = """
SELECT coalesce(sum(rows_total), 0) AS rows, extract(epoch FROM min(created_at) + interval '1 hour' - now()) AS frees_in
FROM imports WHERE tenant_id = $1 AND created_at > now() - interval '1 hour'
"""
