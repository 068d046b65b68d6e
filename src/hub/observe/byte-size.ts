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
