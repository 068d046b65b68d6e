/**
 * A number for each warehouse this process opened, the same in status's `warehouses` and in the breakers
 * governance keeps for them: several pools share one profile name (editors whose SNOWFLAKE_* settings
 * differ), so the name alone cannot say which breaker is whose (see core/hub-health.ts).
 */
const ids = new WeakMap<object, number>();
let last = 0;

export function warehouseId(warehouse: object): number {
  let id = ids.get(warehouse);
  if (id === undefined) {
    id = ++last;
    ids.set(warehouse, id);
  }
  return id;
}
