/**
 * When DuckDB reads a table name as a file (a "replacement scan").
 *
 * A name DuckDB cannot find in its catalog goes to its file readers, which see the parts joined with "."
 * — quoting is gone by then — and take the name when it looks like a file: `FROM data.csv`,
 * `FROM "data"."csv"`, `FROM "/tmp/x.parquet"`, `FROM a.b.json` all open a file. So the check is on the
 * names as the engine sees them, never on how they were quoted. Both the read-only check (analyzer.ts)
 * and the object rules (policy/sql-objects.ts) ask this one function.
 */

/** Characters that make a (necessarily quoted) name part a path: `"/tmp/x"`, `"x.csv"`, `"s3://b/k"`, `"f.csv?x"`. */
const PATH_CHARACTERS = /[./\\:*?~]/;

/** File extensions DuckDB's replacement scans (and common extensions) read: `FROM data.csv` opens ./data.csv. */
const FILE_EXTENSIONS: ReadonlySet<string> = new Set([
  'CSV', 'TSV', 'TXT', 'DAT', 'PARQUET', 'JSON', 'JSONL', 'NDJSON', 'GZ', 'ZST', 'ZSTD', 'BZ2', 'XZ', 'LZ4', 'XLSX', 'XLS',
  'ARROW', 'FEATHER', 'IPC', 'AVRO', 'ORC', 'DB', 'SQLITE', 'SQLITE3', 'DUCKDB', 'SHP', 'GEOJSON', 'GPKG', 'FGB', 'KML', 'GPX',
]);

/**
 * Whether DuckDB may read the table name made of `names` (its parts, unescaped, in order) as a file: some
 * part is path-like, or the name has several parts and the last one is a file extension, however quoted.
 */
export function duckdbReadsAsFile(names: readonly string[]): boolean {
  if (names.some((name) => PATH_CHARACTERS.test(name))) return true;
  const last = names[names.length - 1];
  return names.length > 1 && last !== undefined && FILE_EXTENSIONS.has(last.replace(/[a-z]+/g, (s) => s.toUpperCase()));
}
