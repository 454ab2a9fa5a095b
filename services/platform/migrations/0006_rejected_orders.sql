-- An order the consumer received but could not apply as sent (a line without SKU that matches several stored SKUs
-- of its product, or lines that would merge past the lines-per-order bound): outcome 'rejected', with the reason in
-- the detail, shown in the result workbook and counted by its import (which then completes with errors).
ALTER TABLE import_orders DROP CONSTRAINT import_orders_outcome_check;
ALTER TABLE import_orders ADD CONSTRAINT import_orders_outcome_check
    CHECK (outcome IN ('created', 'updated', 'unchanged', 'stale_status', 'rejected', 'dead_lettered'));
ALTER TABLE imports ADD COLUMN rejected int NOT NULL DEFAULT 0;
