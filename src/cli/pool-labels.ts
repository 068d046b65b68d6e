/**
 * Names for warehouse and breaker lines in `status` and `status --watch`: the profile name, with
 * `#<warehouse id>` where several pools share it (editors whose SNOWFLAKE_* settings differ), the same on a
 * warehouse and its breaker, so an open breaker names its pool.
 */
export interface PoolLabels {
  warehouse(w: { name: string; id?: number | undefined }): string;
  breaker(b: { profile: string; warehouseId?: number | undefined }): string;
}

export function poolLabels(
  warehouses: readonly { name: string; id?: number | undefined }[],
  breakers: readonly { profile: string; warehouseId?: number | undefined }[] = [],
): PoolLabels {
  const ids = new Map<string, Set<number | undefined>>();
  const seen = (name: string, id: number | undefined) => ids.set(name, (ids.get(name) ?? new Set()).add(id));
  for (const w of warehouses) seen(w.name, w.id);
  for (const b of breakers) seen(b.profile, b.warehouseId);
  const named = (name: string, id: number | undefined) => ((ids.get(name)?.size ?? 0) > 1 && id !== undefined ? `${name} #${id}` : name);
  return { warehouse: (w) => named(w.name, w.id), breaker: (b) => named(b.profile, b.warehouseId) };
}
