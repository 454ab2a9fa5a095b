-- Results that lead to a fix: warnings apart from errors, and which cells of a row failed.
-- imports.warnings: every warning of the file (file-level ones with row NULL), as the upload's 202 counted them.
-- import_rows.issues keeps the row's errors; import_rows.warnings its warnings; import_rows.error_columns the
-- headers (as the file spells them) of the cells in error, for the failed-rows workbook to highlight.
ALTER TABLE imports ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]';
ALTER TABLE import_rows ADD COLUMN warnings text NOT NULL DEFAULT '';
ALTER TABLE import_rows ADD COLUMN error_columns text[] NOT NULL DEFAULT '{}';
