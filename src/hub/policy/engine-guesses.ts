/**
 * An engine's guess at the name a statement meant, in its error (DuckDB: `Table with name SALARIES does not
 * exist! Did you mean "HR.SALARIES"?`), is picked from the whole catalog, not from what the caller's role may
 * see: a mistyped or made-up allowed name got a denied table, view, macro or type named back, so a role could
 * enumerate what its deny patterns hide by guessing. A guess stays in the message only when every object it
 * may name is one the role may see; otherwise the line goes (the message keeps the rest, and its advice to
 * look names up with the filtered metadata tools).
 *
 * DuckDB writes the guess unquoted: `HR.SALARIES or Hr Dept.SALARIES`, `Hr Dept.Pay.Roll` (schema "Hr Dept",
 * table "Pay.Roll"), `other.OS.PAYROLL`. Since a name may hold a dot or " or ", every way of reading the text
 * as one to three names of one to three parts is judged, and all of them must be visible.
 */
import { SnowmuxError, isSnowmuxError } from '../../errors.js';
import type { EffectiveRole, ObjectRef } from './policy.js';

/** A line of an engine's message offering a name: DuckDB's `Did you mean "…"?`, always a line of its own. */
const GUESS_LINE = /^\s*Did you mean\s*"(.*)"\??\s*$/;

/** Beyond these, the readings are not counted: the guess is dropped. */
const MAX_NAMES = 4;
const MAX_PARTS = 8;

/**
 * `err` without the guesses its message makes that name objects the role may not see, in the context the
 * statement ran in (`context`: where a one- or two-part guess resolves). Errors of the hub's own, and every
 * error for a role that may use every object, are returned as they are.
 */
export function withoutUnseenGuesses(err: unknown, role: EffectiveRole, context: { database: string; schema: string }): unknown {
  if (!role.objectsRestricted || !isSnowmuxError(err) || !err.message.includes('Did you mean')) return err;
  let changed = false;
  const lines = err.message.split('\n').filter((line) => {
    // A line that offers a name in another form than DuckDB's is dropped too: it cannot be judged.
    if (!/^\s*Did you mean\b/.test(line)) return true;
    const inner = GUESS_LINE.exec(line)?.[1];
    if (inner !== undefined && everyReadingVisible(inner, role, context)) return true;
    changed = true;
    return false;
  });
  if (!changed) return err;
  return new SnowmuxError(err.code, lines.join('\n'), { cause: err, details: err.details });
}

function everyReadingVisible(inner: string, role: EffectiveRole, context: { database: string; schema: string }): boolean {
  const names = inner.split(' or ');
  if (names.length > MAX_NAMES) return false;
  for (const group of groupings(names, MAX_NAMES)) {
    for (const run of group) {
      const parts = run.join(' or ').split('.');
      if (parts.length > MAX_PARTS) return false;
      for (const reading of groupings(parts, 3)) {
        for (const ref of refsOf(reading.map((p) => p.join('.')), context)) {
          if (!role.canSee(ref)) return false;
        }
      }
    }
  }
  return true;
}

/** Every way of cutting `items` into at most `max` runs of neighbours, each run joined back with `sep`. */
function groupings<T>(items: readonly T[], max: number): T[][][] {
  if (items.length === 0) return [[]];
  const out: T[][][] = [];
  const walk = (start: number, runs: T[][]): void => {
    if (start === items.length) {
      out.push(runs);
      return;
    }
    if (runs.length === max) return;
    for (let end = start + 1; end <= items.length; end++) walk(end, [...runs, items.slice(start, end)]);
  };
  walk(0, []);
  return out;
}

/** The objects a name of one to three parts may mean where the statement ran (a two-part name: schema.object, or database.object in its `main`). */
function refsOf(parts: readonly string[], context: { database: string; schema: string }): ObjectRef[] {
  if (parts.some((p) => p === '')) return [{ database: '' }];
  if (parts.length === 1) return [{ database: context.database, schema: context.schema, name: parts[0]! }];
  if (parts.length === 2) {
    return [
      { database: context.database, schema: parts[0]!, name: parts[1]! },
      { database: parts[0]!, schema: 'main', name: parts[1]! },
    ];
  }
  return [{ database: parts[0]!, schema: parts[1]!, name: parts[2]! }];
}
