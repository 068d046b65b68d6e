/** Scan estimates as people read them. */

/** 1536 → "1.5 KB" (binary units, as Snowflake's UI shows sizes). */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(v >= 10 ? 0 : 1)} ${units[u]}`;
}

/**
 * An engine's scan estimate in one phrase: "1.5 GB in 12 of 400 partitions" (Snowflake), "about 6001215
 * rows" (DuckDB). Only the figures the engine gave; undefined when it gave none.
 */
export function formatScanEstimate(e: { bytes?: number | undefined; partitions?: number | undefined; partitionsTotal?: number | undefined; rows?: number | undefined }): string | undefined {
  const partitions = e.partitions === undefined ? undefined : `${e.partitions}${e.partitionsTotal !== undefined ? ` of ${e.partitionsTotal}` : ''} partitions`;
  const parts = [
    e.bytes !== undefined ? `${formatBytes(e.bytes)}${partitions ? ` in ${partitions}` : ''}` : partitions,
    e.rows !== undefined ? `about ${Math.round(e.rows)} rows` : undefined,
  ].filter((p): p is string => p !== undefined);
  return parts.length > 0 ? parts.join(', ') : undefined;
}
