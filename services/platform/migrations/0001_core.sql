-- Order Info core schema. Every business table is keyed by tenant first: tenants never see each other's data.

CREATE TABLE tenants (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    api_key_hash  bytea NOT NULL UNIQUE,          -- sha256 of the key; the key itself is shown once, never stored
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE imports (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    id               uuid NOT NULL,
    filename         text NOT NULL,
    mode             text NOT NULL CHECK (mode IN ('partial', 'strict')),
    timezone         text NOT NULL,
    state            text NOT NULL CHECK (state IN ('queued', 'processing', 'completed',
                                                    'completed_with_errors', 'failed')),
    rows_total       int NOT NULL DEFAULT 0,
    rows_valid       int NOT NULL DEFAULT 0,
    rows_invalid     int NOT NULL DEFAULT 0,
    orders_total     int NOT NULL DEFAULT 0,       -- valid orders to be published
    orders_held_back int NOT NULL DEFAULT 0,
    orders_published int NOT NULL DEFAULT 0,
    orders_processed int NOT NULL DEFAULT 0,
    created          int NOT NULL DEFAULT 0,
    updated          int NOT NULL DEFAULT 0,
    unchanged        int NOT NULL DEFAULT 0,
    stale_status     int NOT NULL DEFAULT 0,
    dead_lettered    int NOT NULL DEFAULT 0,
    header           jsonb NOT NULL DEFAULT '[]',
    first_errors     jsonb NOT NULL DEFAULT '[]',
    failure          text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX imports_newest ON imports (tenant_id, created_at DESC, id DESC);

-- The uploaded rows, kept so the result workbook can show every row's final outcome.
CREATE TABLE import_rows (
    tenant_id  uuid NOT NULL,
    import_id  uuid NOT NULL,
    row_no     int NOT NULL,
    order_no   text,
    cells      jsonb NOT NULL,
    outcome    text NOT NULL,                      -- invalid | held_back | queued (final outcome in import_orders)
    issues     text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, import_id, row_no),
    FOREIGN KEY (tenant_id, import_id) REFERENCES imports (tenant_id, id) ON DELETE CASCADE
);

-- One row per order of an import once processed: counting from here makes a redelivery count once.
CREATE TABLE import_orders (
    tenant_id  uuid NOT NULL,
    import_id  uuid NOT NULL,
    order_no   text NOT NULL,
    outcome    text NOT NULL CHECK (outcome IN ('created', 'updated', 'unchanged', 'stale_status', 'dead_lettered')),
    detail     text NOT NULL DEFAULT '',
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, import_id, order_no),
    FOREIGN KEY (tenant_id, import_id) REFERENCES imports (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE stores (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    store_key   text NOT NULL,                     -- 'no:' || store_no, else 'id:' || store_id
    source      text NOT NULL,
    store_no    text,
    store_id    text,
    name        text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, store_key)
);

CREATE TABLE products (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    product_id  text NOT NULL,
    sku         text NOT NULL,
    name        text,
    unit_price  numeric(14, 2),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, product_id, sku)
);

CREATE TABLE customers (
    tenant_id          uuid NOT NULL REFERENCES tenants (id),
    id                 uuid NOT NULL,
    sobot_customer_id  text,
    mobile             text,
    unionid            text,
    nickname           text,
    persona            jsonb NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
) WITH (fillfactor = 70);  -- room on each page: persona updates stay HOT (no index touched)
CREATE UNIQUE INDEX customers_sobot ON customers (tenant_id, sobot_customer_id) WHERE sobot_customer_id IS NOT NULL;
CREATE UNIQUE INDEX customers_mobile ON customers (tenant_id, mobile) WHERE mobile IS NOT NULL;
CREATE UNIQUE INDEX customers_unionid ON customers (tenant_id, unionid) WHERE unionid IS NOT NULL;

-- Identifiers that could not be merged because another customer holds them.
CREATE TABLE identity_conflicts (
    tenant_id     uuid NOT NULL,
    order_no      text NOT NULL,
    customer_id   uuid NOT NULL,
    identifier    text NOT NULL,
    value         text NOT NULL,
    held_by       uuid NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_no, identifier)
);

CREATE TABLE orders (
    tenant_id      uuid NOT NULL REFERENCES tenants (id),
    order_no       text NOT NULL,
    source         text NOT NULL,
    status         text NOT NULL,
    status_raw     text NOT NULL,
    order_time     timestamptz NOT NULL,
    payment_time   timestamptz,
    store_key      text NOT NULL,
    store          jsonb NOT NULL,               -- store_no, store_id, name as the order gave them
    customer_id    uuid NOT NULL,
    matched_by     text NOT NULL,                 -- sobot_customer_id | mobile | unionid | nickname | new
    buyer          jsonb NOT NULL,
    receiver       jsonb,
    order_amount   numeric(14, 2),
    paid_amount    numeric(14, 2),
    total_amount   numeric(14, 2) NOT NULL,
    remark         text,
    version        int NOT NULL DEFAULT 1,       -- bumped on every effective change
    last_import_id uuid,
    producer       text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_no)
);
CREATE INDEX orders_by_customer ON orders (tenant_id, customer_id);

CREATE TABLE order_lines (
    tenant_id     uuid NOT NULL,
    order_no      text NOT NULL,
    product_id    text NOT NULL,
    sku           text NOT NULL,
    product_name  text,
    quantity      int NOT NULL,
    unit_price    numeric(14, 2) NOT NULL,
    line_amount   numeric(14, 2),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_no, product_id, sku),
    FOREIGN KEY (tenant_id, order_no) REFERENCES orders (tenant_id, order_no)
);

CREATE TABLE order_status_history (
    tenant_id     uuid NOT NULL,
    order_no      text NOT NULL,
    status        text NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_no, status)
);

-- Transactional outbox: written in the consumer's transaction, relayed to Kafka by the rules bridge.
CREATE TABLE outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    topic       text NOT NULL,
    shard       int NOT NULL,                     -- hash of the key: one active relay per shard keeps key order
    key         text NOT NULL,
    event_id    text NOT NULL,
    event_type  text NOT NULL,
    headers     json NOT NULL DEFAULT '{}',           -- json, not jsonb: relayed as text, never queried inside
    payload     json NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX outbox_pending ON outbox (shard, id) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
