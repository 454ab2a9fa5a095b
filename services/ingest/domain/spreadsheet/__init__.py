"""Pure parsing of an uploaded sheet's cells: the template, cell values, row checks, the split into orders."""
