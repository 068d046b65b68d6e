/**
 * Which of two snowmux versions is newer, so that advice points the right way: an old CLI must not tell
 * the operator to move a newer hub back to its own version.
 */

/**
 * Negative when `a` is older than `b`, positive when newer, 0 when equal. Dotted numbers compare part by
 * part; a pre-release (`1.2.0-rc.1`) comes before its release; anything else compares as text.
 */
export function compareVersions(a: string, b: string): number {
  const [coreA = '', preA] = splitPre(a);
  const [coreB = '', preB] = splitPre(b);
  const partsA = coreA.split('.');
  const partsB = coreB.split('.');
  for (let i = 0; i < Math.max(partsA.length, partsB.length); i++) {
    const order = comparePart(partsA[i] ?? '0', partsB[i] ?? '0');
    if (order !== 0) return order;
  }
  if (preA === preB) return 0;
  if (preA === undefined) return 1;
  if (preB === undefined) return -1;
  const identsA = preA.split('.');
  const identsB = preB.split('.');
  for (let i = 0; i < Math.max(identsA.length, identsB.length); i++) {
    // More identifiers after equal ones is the later pre-release (rc.1 < rc.1.1).
    if (i >= identsA.length) return -1;
    if (i >= identsB.length) return 1;
    const order = comparePart(identsA[i]!, identsB[i]!);
    if (order !== 0) return order;
  }
  return 0;
}

function splitPre(version: string): [string, string | undefined] {
  const dash = version.indexOf('-');
  return dash < 0 ? [version, undefined] : [version.slice(0, dash), version.slice(dash + 1)];
}

function comparePart(a: string, b: string): number {
  const numeric = /^\d+$/;
  if (numeric.test(a) && numeric.test(b)) return Number(a) - Number(b);
  return a < b ? -1 : a > b ? 1 : 0;
}
