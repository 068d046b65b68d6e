/**
 * When DuckDB reads a table name as a file (a "replacement scan").
 *
 * A name DuckDB cannot find in its catalog goes to its file readers, which see the parts joined with "."
 * — quoting is gone by then — and take the name only when that joined name ends in a file extension they
 * read (optionally followed by a compression suffix, or by `?` and a query): `FROM data.csv`,
 * `FROM "data"."csv"`, `FROM s."x.csv"`, `FROM "/tmp/x.parquet"`, `FROM a.b.json` all open a file, while
 * `FROM "Mixed"."a.b"`, `FROM "my.schema".t` or `FROM s."*"` are tables or "does not exist", never files
 * (checked against the engine in test/unit/duckdb-replacement-scan.test.ts). The check is on the names as
 * the engine sees them, never on how they were quoted, and it cannot know whether the table exists (then
 * the engine reads no file): a name that may be a file is refused whether or not a table of that name
 * exists. Both the read-only check (analyzer.ts) and the object rules (policy/sql-objects.ts) ask this one
 * function.
 */

/** Characters that make a lone (necessarily quoted) name a path: `"/tmp/x"`, `"x.csv"`, `"s3://b/k"`, `"f.csv?x"`. */
const PATH_CHARACTERS = /[./\\:*?~]/;

/**
 * File extensions DuckDB's replacement scans (and the extensions it autoloads for a file name) read, and
 * compression suffixes: `FROM data.csv` opens ./data.csv, `FROM other.ddb` attaches ./other.ddb.
 */
const FILE_EXTENSIONS: ReadonlySet<string> = new Set([
  'CSV', 'TSV', 'TXT', 'DAT', 'PARQUET', 'JSON', 'JSONL', 'NDJSON', 'GZ', 'ZST', 'ZSTD', 'BZ2', 'XZ', 'LZ4', 'XLSX', 'XLS',
  'ARROW', 'FEATHER', 'IPC', 'AVRO', 'ORC', 'DB', 'DDB', 'SQLITE', 'SQLITE3', 'DUCKDB', 'SHP', 'GEOJSON', 'GPKG', 'FGB', 'KML', 'GPX',
]);

/**
 * Whether DuckDB may read the table name made of `names` (its parts, unescaped, in order) as a file.
 *
 * A lone quoted name that looks like a path at all is refused (`"/etc/x"`, `"a.b"`): that is a file
 * reader's home ground, and a table with such a name can still be read qualified by its schema. A
 * qualified name is a file only when it carries a file extension (endsInFileExtension).
 */
export function duckdbReadsAsFile(names: readonly string[]): boolean {
  return names.length === 1 ? PATH_CHARACTERS.test(names[0] ?? '') : endsInFileExtension(names);
}

/**
 * The read-only refusal of a table name DuckDB may read as a file (`shown` as the statement spells it,
 * `names` unescaped in their own case). It says what the name may be opened as, never that the table is a
 * file: the engine reads a table of that name, when one exists, instead.
 */
export function duckdbFileHazard(shown: string, names: readonly string[]): string {
  const path = names.join('.');
  return endsInFileExtension(names)
    ? `reads ${shown}, which DuckDB may open as the file ${path} when no such table exists (replacement scan); a table whose name has a file extension in it cannot be queried here`
    : `reads ${shown}, which DuckDB may open as the file ${path} when no table has that name (replacement scan); qualify a table of that name with its schema (schema.${shown})`;
}

/**
 * Some dot-separated piece of the joined name after the first (the part of it before a `?`) is a file
 * extension: `s."x.csv"`, `"f"."csv"`, `s."x.csv?y"`, `s."x.csv.gz"` — wider than the engine's own test
 * (which looks at the end of the name), never narrower.
 */
function endsInFileExtension(names: readonly string[]): boolean {
  const pieces = names.join('.').split('.').slice(1);
  return pieces.some((piece) => FILE_EXTENSIONS.has(asciiUpper(piece.replace(/\?[^]*$/, ''))));
}

function asciiUpper(text: string): string {
  return text.replace(/[a-z]+/g, (s) => s.toUpperCase());
}
