-- The order list at 1,000,000 orders (issue 15).
--
-- A prefix shared by many orders of one old month walked the time index through most of the table (1.2 s). The
-- list now reads such a prefix's older matches from the prefix index (`queries.WIDE_PREFIX_BRANCH`); with the keys
-- the listing orders by included, and the status (prefix + status is the console's most common pair), that read is
-- index-only: no table row is visited for the matches that do not make the page. The probe that counts a prefix's
-- members is index-only too. It replaces the former prefix index (same key), so the consumer still maintains eight
-- indexes on `orders` (measured: each secondary index adds about 7-9 us of PostgreSQL CPU per inserted order).
CREATE INDEX orders_by_order_no_prefix ON orders (tenant_id, (order_no COLLATE "C")) INCLUDE (order_time, order_no, status);
DROP INDEX orders_by_order_no_c;
