-- Read side of the order list, order details and customer views (issue 6).
--
-- Every list index leads with tenant_id and ends with (order_time DESC, order_no DESC): the listing order, so a
-- filtered page is an ordered index range read that stops after `limit` rows, and the keyset condition
-- (order_time, order_no) < (cursor) is an index bound, whatever page is asked for.

-- The default listing, and any filter the planner prefers to check row by row in time order (wide prefix, time).
CREATE INDEX orders_newest ON orders (tenant_id, order_time DESC, order_no DESC);

-- One status (several statuses: one ordered range each, merged by the query).
CREATE INDEX orders_by_status ON orders (tenant_id, status, order_time DESC, order_no DESC);

-- One source (rare sources would otherwise walk the whole time index).
CREATE INDEX orders_by_source ON orders (tenant_id, source, order_time DESC, order_no DESC);

-- `store` matches the order's store no. or its store ID (as the order gave them): one index each.
CREATE INDEX orders_by_store_no ON orders (tenant_id, (store ->> 'store_no'), order_time DESC, order_no DESC);
CREATE INDEX orders_by_store_id ON orders (tenant_id, (store ->> 'store_id'), order_time DESC, order_no DESC);

-- A customer's orders, newest first (also serves the persona aggregates, which filter on the first two columns).
CREATE INDEX orders_by_customer_time ON orders (tenant_id, customer_id, order_time DESC, order_no DESC);
DROP INDEX orders_by_customer;

-- Order no. prefix search: byte order ("C"), so a prefix is one index range whatever the database collation.
CREATE INDEX orders_by_order_no_c ON orders (tenant_id, (order_no COLLATE "C"));

-- The events emitted for one order (order details): outbox rows by (tenant, key).
CREATE INDEX outbox_by_key ON outbox (tenant_id, key, id);
