/**
 * DuckDB runs a streamed SELECT's source ahead of the reader: its streaming buffer is checked between
 * pipeline tasks, and one task can build a whole morsel (~120k rows) of a projection, so a query the hub
 * reads 5,000 rows of could hold gigabytes of values outside DuckDB's memory_limit
 * (`SELECT repeat('x', 48000) FROM range(100000)`: ~3 GB to read two chunks). A LIMIT over the statement
 * stops the source itself. The reader never reads past `readerRowBound` rows, so a LIMIT one above it
 * cuts nothing the hub would show or keep, and still tells a cut result from a whole one: the reader
 * never sees the end of a result the LIMIT cut.
 */

/** The most rows `readResult` reads: the answer and the row that proves it truncated, or the rows kept for paging. */
export function readerRowBound(maxRows: number, keepRows: number): number {
  return Math.max(maxRows + 1, keepRows);
}

/**
 * The statement under a row limit, as a subquery: the statement's own ORDER BY, LIMIT and set operations
 * stay inside it. Only for a text DuckDB already prepared as one SELECT: a text that prepares alone has
 * balanced brackets and ends its own comments up to the newline, so nothing in it can close the
 * subquery early. The outer SELECT renames duplicate column names (a, a_1); the caller shows the
 * statement's own names.
 */
export function rowLimitedText(sql: string, rows: number): string {
  return `SELECT * FROM (\n${sql.replace(/[\s;]+$/u, '')}\n) LIMIT ${rows}`;
}
