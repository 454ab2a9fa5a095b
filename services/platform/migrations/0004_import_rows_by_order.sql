-- Counting an order toward an import checks that the import published it: its queued rows, by order no.
CREATE INDEX import_rows_queued_order ON import_rows (tenant_id, import_id, order_no) WHERE outcome = 'queued';
