/**
 * `snowmux reload` and SIGHUP under load: new roles apply to the sessions already open (none dropped, no
 * call failed), an invalid file is refused with the reason while the running rules stay, what cannot
 * change at run time is reported, and every reload is an audit record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { connectClient, runCli, startHub, tempHome, textOf } from '../helpers/harness.js';

const me = userInfo().username;
const role = (tools: string) => `[roles.mine]\nidentities = ["${me}"]\ntools = [${tools}]\n# The loader calls as fast as it can: keep the rate limit out of this test.\nrate = { per_second = 1000000, burst = 1000000 }\n`;

async function statusOf(home: string): Promise<{ sessions: { id: string }[]; config: { lastReload: { at: string; applied: string[] } | null } }> {
  return JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as never;
}

test('reload applies new roles to open sessions under load; an invalid file is refused and the old rules stay', async (t) => {
  const home = tempHome(t);
  const file = join(home, 'config.toml');
  writeFileSync(file, role('"list_databases"'));
  const hub = await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy', name: 'editor' });
  const before = await c.callTool('execute_query', { query: 'SELECT 1' });
  assert.equal(before.isError, true);
  const sessionsBefore = (await statusOf(home)).sessions.map((s) => s.id);

  // A second editor calls in a loop the whole time: reloads must not fail any of its calls.
  const loader = await connectClient(t, { home, kind: 'v1', name: 'loader' });
  let stop = false;
  const failures: string[] = [];
  let calls = 0;
  const loop = (async () => {
    while (!stop) {
      const r = await loader.callTool('list_databases', {});
      calls++;
      if (r.isError) failures.push(textOf(r));
    }
  })();

  writeFileSync(file, role('"list_databases", "execute_query"'));
  const ok = await runCli(['reload', '--home', home]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /now applied: roles/);
  const after = await c.callTool('execute_query', { query: 'SELECT 2 AS TWO' });
  assert.notEqual(after.isError, true, textOf(after));

  writeFileSync(file, `${role('"list_databases"')}\n[limits]\nmax_concurrent_queries = "lots"\n`);
  const bad = await runCli(['reload', '--home', home]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /config\.toml[\s\S]*limits\.max_concurrent_queries[\s\S]*CONFIG_INVALID/);
  // Said, not left to guess: the config error alone read as if the hub might now run without one.
  assert.match(bad.stderr, new RegExp(`The running hub keeps its current configuration\\. Fix the file, then run \`snowmux reload --home ${home}\` again\\.`));
  const still = await c.callTool('execute_query', { query: 'SELECT 3' });
  assert.notEqual(still.isError, true, 'the running rules stay after a refused reload');

  // SIGHUP does the same; what cannot change at run time is reported, not silently ignored.
  const seen = (await statusOf(home)).config.lastReload!.at;
  writeFileSync(file, `${role('"list_databases"')}\n[limits]\nmax_queued = 7\n`);
  process.kill(hub.pid, 'SIGHUP');
  let st = await statusOf(home);
  while (st.config.lastReload?.at === seen) st = await statusOf(home);
  const refused = await c.callTool('execute_query', { query: 'SELECT 4' });
  assert.equal(refused.isError, true);
  assert.match(hub.stderr(), /SIGHUP: configuration reloaded \(roles\); needs a restart: limits\.max_queued/);
  assert.match((await runCli(['status', '--home', home])).stdout, /config changed at \d\d:\d\d:\d\d UTC in what applies only after a restart[\s\S]*limits\.max_queued/);

  stop = true;
  await loop;
  assert.deepEqual(failures, []);
  assert.ok(calls > 0);
  assert.deepEqual((await statusOf(home)).sessions.map((s) => s.id).filter((id) => sessionsBefore.includes(id)), sessionsBefore, 'no session was dropped');

  await c.close();
  await loader.close();
  assert.equal(await hub.stop(), 0);
  const dir = join(home, 'audit');
  const reloads = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean)).map((l) => JSON.parse(l) as { kind: string; outcome: string; errorCode?: string; detail?: { applied?: string[]; reason?: string } }).filter((r) => r.kind === 'config_reload');
  assert.deepEqual(reloads.map((r) => r.outcome), ['ok', 'refused', 'ok'], 'every reload is audited, the refused one with its reason');
  assert.deepEqual(reloads[0]!.detail!.applied, ['roles']);
  assert.equal(reloads[1]!.errorCode, 'CONFIG_INVALID');
  assert.match(reloads[1]!.detail!.reason!, /limits\.max_concurrent_queries/);
  assert.equal((await runCli(['audit', 'verify', '--home', home])).code, 0);
});

test('a config file deleted or emptied while the hub runs is not reloaded as the defaults: refused, the rules stay, and status says so', async (t) => {
  const home = tempHome(t);
  const file = join(home, 'config.toml');
  writeFileSync(file, role('"list_databases"'));
  await startHub(t, home);
  const c = await connectClient(t, { home, kind: 'v2-legacy', name: 'editor' });
  assert.equal((await c.callTool('execute_query', { query: 'SELECT 1' })).isError, true, 'the role allows no queries');
  for (const [what, change] of [['empty', () => writeFileSync(file, '')], ['gone', () => rmSync(file)]] as const) {
    change();
    const r = await runCli(['reload', '--home', home]);
    assert.equal(r.code, 1, what);
    assert.match(r.stderr, new RegExp(`config\\.toml is ${what} since the hub read it[\\s\\S]*the running configuration stays`), what);
    // Before, the built-in defaults ran: every tool, every object.
    assert.equal((await c.callTool('execute_query', { query: 'SELECT 1' })).isError, true, `${what}: the running rules stay`);
    const shown = await runCli(['status', '--home', home]);
    assert.match(shown.stdout, /config NOT RELOADED: the file on disk was refused at \d\d:\d\d:\d\d UTC; the running\s+configuration stays/, what);
    assert.doesNotMatch(shown.stdout, /not present: defaults/, what);
  }
  // A file that says so on purpose (a comment) runs on the defaults, and the refusal is gone from status.
  writeFileSync(file, '# on the defaults, on purpose\n');
  assert.equal((await runCli(['reload', '--home', home])).code, 0);
  assert.notEqual((await c.callTool('execute_query', { query: 'SELECT 1' })).isError, true);
  assert.doesNotMatch((await runCli(['status', '--home', home])).stdout, /NOT RELOADED/);
  await c.close();
});

test('a change that needs a restart stays listed through later reloads until it is applied', async (t) => {
  const home = tempHome(t);
  const file = join(home, 'config.toml');
  writeFileSync(file, role('"list_databases"'));
  await startHub(t, home);
  const pending = async () => ((await statusOf(home)).config.lastReload as { needsRestart: string[] } | null)?.needsRestart;

  writeFileSync(file, `${role('"list_databases"')}\n[hub]\nmax_rows = 5\n`);
  assert.match((await runCli(['reload', '--home', home])).stdout, /applied only after a restart[^\n]*: hub\.max_rows\./);
  // A second reload of the same file, then an edit that does apply at once: the hub still runs its old [hub].
  const again = await runCli(['reload', '--home', home]);
  assert.match(again.stdout, /applied only after a restart[^\n]*: hub\.max_rows\./, 'the second reload still says so');
  writeFileSync(file, `${role('"list_databases", "execute_query"')}\n[hub]\nmax_rows = 5\n`);
  const roles = await runCli(['reload', '--home', home]);
  assert.match(roles.stdout, /now applied: roles/);
  assert.match(roles.stdout, /applied only after a restart[^\n]*: hub\.max_rows\./);
  assert.deepEqual(await pending(), ['hub.max_rows']);
  assert.match((await runCli(['status', '--home', home])).stdout, /applies only after a restart[\s\S]*: hub\.max_rows/);
  // Put back as it runs: nothing is pending any more.
  writeFileSync(file, role('"list_databases", "execute_query"'));
  assert.doesNotMatch((await runCli(['reload', '--home', home])).stdout, /after a restart/);
  assert.deepEqual(await pending(), []);
});

test("reload's advice to restart names the config file the hub reads when it is not the home's own", async (t) => {
  const home = tempHome(t);
  const file = join(tempHome(t, 'smx-conf-'), 'team.toml');
  writeFileSync(file, role('"list_databases"'));
  await startHub(t, home, ['--config', file]);
  writeFileSync(file, `${role('"list_databases"')}\n[hub]\nmax_rows = 5\n`);
  const out = (await runCli(['reload', '--home', home])).stdout;
  // Pasted without --config, the replacing hub read the home's own config.toml instead.
  assert.ok(out.includes(`--config ${file}`), out);
});
