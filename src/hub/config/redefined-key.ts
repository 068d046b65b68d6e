/**
 * Which key a TOML "trying to redefine an already defined table or value" error is about: smol-toml names
 * only the line and column, while every other config error names its key. Read from the failing line and
 * the table header above it; undefined when that line is not a plain `key = …` or `[table]` (an inline
 * table, a key inside a multi-line value), and then the line and column alone are said.
 */

/** A dotted TOML key at the start of `text`: bare or quoted parts, with the rest of the text after it. */
function dottedKey(text: string): { parts: string[]; rest: string } | undefined {
  const parts: string[] = [];
  let rest = text;
  for (;;) {
    rest = rest.trimStart();
    const m = /^(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')/.exec(rest);
    if (!m) return undefined;
    parts.push(m[1] ?? m[2] ?? m[3] ?? '');
    rest = rest.slice(m[0].length).trimStart();
    if (!rest.startsWith('.')) return { parts, rest };
    rest = rest.slice(1);
  }
}

const shown = (parts: string[]) => parts.map((p) => (/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p))).join('.');

/** A `[table]` or `[[array]]` header line: its key, else undefined. */
function header(line: string): string[] | undefined {
  const m = /^\s*(\[\[?)(.*)$/.exec(line);
  if (!m) return undefined;
  const key = dottedKey(m[2]!);
  const close = m[1] === '[[' ? ']]' : ']';
  if (!key || !key.rest.startsWith(close) || !/^\s*(#.*)?$/.test(key.rest.slice(close.length))) return undefined;
  return key.parts;
}

export function redefinedKey(text: string, line: number, column: number): { key: string; table: boolean } | undefined {
  const lines = text.split(/\r?\n/);
  const failing = lines[line - 1];
  if (failing === undefined) return undefined;
  const table = header(failing);
  if (table) return { key: shown(table), table: true };
  const indent = failing.length - failing.trimStart().length;
  // Only an error at the key's start is about that key (not one inside an inline table further on).
  if (column !== indent + 1) return undefined;
  const key = dottedKey(failing);
  if (!key || !key.rest.startsWith('=')) return undefined;
  let above: string[] = [];
  for (let i = line - 2; i >= 0; i--) {
    const h = header(lines[i]!);
    if (h) {
      above = h;
      break;
    }
  }
  return { key: shown([...above, ...key.parts]), table: false };
}
