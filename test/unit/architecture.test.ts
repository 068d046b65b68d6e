/**
 * The layers of src/, enforced: a folder imports (values or types) only from folders below it, so there
 * is no folder cycle and the low layers stay usable on their own (the shim bundle, the guard mechanisms,
 * the audit log). Adding a folder means giving it a rank here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

const src = join(repoRoot, 'src');

/** Lowest first. Folders of equal rank may not import each other. */
const RANKS: Record<string, number> = {
  '.': 0, // errors, the error-code registry, version
  wire: 1, // framing, hello, home and socket paths: shared by shim, CLI and hub
  'hub/guard': 2, // breaker, rate, quota, retry, fair scheduler, SQL classifier: mechanisms, no policy
  'hub/names': 2, // identifiers and object patterns
  'hub/keys': 2, // API keys for the HTTP face
  'hub/audit': 2,
  shim: 2,
  'hub/session': 3,
  'hub/listen': 3, // socket mechanisms: exclusive/take-over listening, link watchdog, metrics port
  'hub/observe': 4,
  'hub/team': 4.5, // what replicas of a team hub share through Redis
  'hub/config': 5,
  'hub/policy': 6,
  'hub/warehouse': 7,
  'hub/governance': 8, // the state behind the rules (buckets, quotas, queues, breakers, caches)
  'hub/pipeline': 8.5, // the one ordered path of every call: call stages, statement stages
  'hub/tools': 9,
  'hub/core': 10, // the transport-free core: sessions, the server factory, status, reload, stop
  'hub/socket': 11, // the Unix-socket face: link handshake, control requests, shim sessions
  'hub/http': 11, // the HTTP face: keys, routes, /mcp, /shim, engines
  hub: 12, // the hub process's pieces composed: core + socket face, the runtime built from config

  cli: 13, // the entry point and its commands (main.ts loads each command lazily)
};

/** Layer of a file: its folder, with sub-folders of a hub layer (warehouse/duckdb, guard/sql) folded in. */
function layerOf(file: string): string {
  const parts = relative(src, dirname(file)).split('/').filter(Boolean);
  if (parts.length === 0) return '.';
  if (parts[0] === 'hub') return parts.slice(0, 2).join('/');
  return parts[0]!;
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative module specifiers of every import form: static, type-only, re-export, side effect, dynamic. */
function importSpecs(text: string): string[] {
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.[^']+)'/g)].map((m) => m[1]!);
}

function relativeImports(file: string): string[] {
  return importSpecs(readFileSync(file, 'utf8')).map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'));
}

test('every folder of src/ has a layer', () => {
  const unranked = [...new Set(sources(src).map(layerOf))].filter((l) => !(l in RANKS));
  assert.deepEqual(unranked, [], 'give new folders a rank in test/unit/architecture.test.ts');
});

test('a layer imports only from layers below it (no folder cycles)', () => {
  const violations: string[] = [];
  for (const file of sources(src)) {
    const from = layerOf(file);
    for (const target of relativeImports(file)) {
      const to = layerOf(target);
      if (to === from) continue;
      if (!(RANKS[to]! < RANKS[from]!)) violations.push(`${relative(src, file)} (${from}) imports ${relative(src, target)} (${to})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the stated boundaries hold: shim ↛ hub, guard and audit ↛ anything but errors, warehouse ↛ session, core ↛ listeners', () => {
  const rules: [layer: string, allowed: (to: string) => boolean][] = [
    ['hub/core', (to) => !['hub/listen', 'hub/socket', 'hub/http', 'wire'].includes(to)],
    ['hub/pipeline', (to) => !['hub/listen', 'hub/socket', 'hub/http', 'wire'].includes(to)],
    ['shim', (to) => to === '.' || to === 'wire'],
    ['hub/guard', (to) => to === '.'],
    ['hub/audit', (to) => to === '.'],
    ['hub/warehouse', (to) => to !== 'hub/session' && to !== 'hub/governance' && to !== 'hub/tools'],
  ];
  const broken: string[] = [];
  for (const file of sources(src)) {
    const from = layerOf(file);
    const rule = rules.find(([l]) => l === from);
    if (!rule) continue;
    for (const target of relativeImports(file)) {
      const to = layerOf(target);
      if (to !== from && !rule[1](to)) broken.push(`${relative(src, file)} imports ${relative(src, target)}`);
    }
  }
  assert.deepEqual(broken, []);
});

test('the core, the pipeline and the tools know no transport: no socket, HTTP or WebSocket module', () => {
  const transportModules = /from '(node:net|node:http|node:https|ws|hyper-express|@modelcontextprotocol\/server\/stdio)'/;
  const offenders = sources(src)
    .filter((f) => ['hub/core', 'hub/pipeline', 'hub/tools', 'hub/governance'].includes(layerOf(f)))
    .filter((f) => transportModules.test(readFileSync(f, 'utf8')))
    .map((f) => relative(src, f));
  assert.deepEqual(offenders, []);
});

/** Import cycles between files (types included), each as its files in import order; empty when there is none. */
function fileCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    path.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (state.get(dep) === 'open') cycles.push(path.slice(path.indexOf(dep)));
      else if (!state.has(dep)) visit(dep);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

test('no two files of src/ import each other, directly or around a loop (a shared shape lives below both)', () => {
  const graph = new Map(sources(src).map((f) => [f, relativeImports(f)]));
  const cycles = fileCycles(graph).map((c) => c.map((f) => relative(src, f)).join(' -> '));
  assert.deepEqual(cycles, []);
});

test('the cycle finder finds a loop and passes a tree', () => {
  assert.deepEqual(fileCycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]])), [['a', 'b', 'c']]);
  assert.deepEqual(fileCycles(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]])), []);
});

test('the checker sees imports of every form (it would catch a violation)', () => {
  const text = [
    "import { a } from '../tools/a.js';",
    "import type { B } from '../../shim/b.js';",
    "export * from './c.js';",
    "export { d } from '../policy/d.js';",
    "import './e.js';",
    "const f = await import('../warehouse/f.js');",
    "import {\n  g,\n  h,\n} from '../session/gh.js';",
  ].join('\n');
  assert.deepEqual(importSpecs(text), ['../tools/a.js', '../../shim/b.js', './c.js', '../policy/d.js', './e.js', '../warehouse/f.js', '../session/gh.js']);
  const file = join(src, 'hub', 'guard', 'x.ts');
  const deps = ['../tools/a.js', '../../shim/b.js'].map((s) => resolve(dirname(file), s).replace(/\.js$/, '.ts'));
  assert.deepEqual(deps.map(layerOf), ['hub/tools', 'shim']);
  assert.ok(RANKS['hub/tools']! > RANKS['hub/guard']!);
});
