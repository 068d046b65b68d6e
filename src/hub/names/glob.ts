/**
 * Shell-style globs for policy rules: `*` matches any run of characters (also none), `?` exactly one.
 *
 * Matching is a two-pointer walk that backtracks only to the last `*`, so it takes at most
 * O(pattern × text) steps. A regular expression would backtrack exponentially on patterns such as
 * `*A*A*A*B`, and the text matched here can come from a client (an identifier inside a 4 MB query).
 */

export interface GlobOptions {
  /** Compare case-insensitively (Unicode upper-case of both sides). Default false. */
  fold?: boolean;
}

/** Whether `pattern` contains a glob character. */
export function hasGlob(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('?');
}

/** True when the pattern is made only of `*` (it matches everything). */
export function matchesEverything(pattern: string): boolean {
  return pattern.length > 0 && /^\*+$/.test(pattern);
}

export function globMatch(pattern: string, text: string, options: GlobOptions = {}): boolean {
  const p = Array.from(options.fold ? pattern.toUpperCase() : pattern);
  const t = Array.from(options.fold ? text.toUpperCase() : text);
  let pi = 0;
  let ti = 0;
  let star = -1;
  let mark = 0;
  while (ti < t.length) {
    const pc = p[pi];
    if (pc !== undefined && pc !== '*' && (pc === '?' || pc === t[ti])) {
      pi++;
      ti++;
    } else if (pc === '*') {
      star = pi++;
      mark = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (p[pi] === '*') pi++;
  return pi === p.length;
}
