// Records DuckDB's per-platform binding packages in package-lock.json as platform-filtered optional
// packages. Why: the registry this project installs from carries only the linux-x64 builds, so npm cannot
// record the others, and `npm ci` then refuses the lock ("Missing: @duckdb/node-bindings-darwin-arm64").
// npm skips these entries on other platforms and never fetches them. Run after any `npm install`:
//   node tools/lockfile-platforms.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
const bindings = packages['node_modules/@duckdb/node-bindings'];
if (!bindings) throw new Error('@duckdb/node-bindings is not in package-lock.json');
const platforms = {
  'darwin-arm64': { cpu: ['arm64'], os: ['darwin'] },
  'darwin-x64': { cpu: ['x64'], os: ['darwin'] },
  'linux-arm64': { cpu: ['arm64'], os: ['linux'], libc: ['glibc'] },
  'linux-arm64-musl': { cpu: ['arm64'], os: ['linux'], libc: ['musl'] },
  'linux-x64': { cpu: ['x64'], os: ['linux'], libc: ['glibc'] },
  'linux-x64-musl': { cpu: ['x64'], os: ['linux'], libc: ['musl'] },
  'win32-arm64': { cpu: ['arm64'], os: ['win32'] },
  'win32-x64': { cpu: ['x64'], os: ['win32'] },
};
let added = 0;
for (const [suffix, p] of Object.entries(platforms)) {
  const key = `node_modules/@duckdb/node-bindings-${suffix}`;
  if (packages[key] || !bindings.optionalDependencies?.[`@duckdb/node-bindings-${suffix}`]) continue;
  packages[key] = { version: bindings.version, cpu: p.cpu, ...(p.libc ? { libc: p.libc } : {}), license: 'MIT', optional: true, os: p.os };
  added++;
}
const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
lock.packages = sorted;
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: ${added} platform entr${added === 1 ? 'y' : 'ies'} added`);
