/**
 * The checks a config must pass before a hub serves with it (src/hub/config-check.ts), which `snowmux hub`,
 * `snowmux reload` and `snowmux doctor` all apply: each mistake that used to be accepted at start and then
 * failed calls (or broke every session) is refused, naming the file and the key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnowmuxError } from '../../src/errors.js';
import { parseConfigText, type LoadedConfig } from '../../src/hub/config/config-file.js';
import { checkHubConfig } from '../../src/hub/config-check.js';
import { BUILTIN_TOOL_NAMES } from '../../src/hub/tools/team-tools.js';

const FILE = '/etc/snowmux/config.toml';
const loaded = (text: string): LoadedConfig => ({ path: FILE, shownPath: FILE, exists: true, config: parseConfigText(text, FILE), warnings: [] });
/** A HOME with no Snowflake connection files. */
const env = { HOME: '/nonexistent-home' };

function refusal(text: string, opts: { httpListen?: string; env?: NodeJS.ProcessEnv } = {}): string {
  try {
    checkHubConfig(loaded(text), { env: opts.env ?? env, homedir: (opts.env ?? env).HOME, httpListen: opts.httpListen });
  } catch (err) {
    assert.ok(err instanceof SnowmuxError && err.code === 'CONFIG_INVALID', String(err));
    return err.message;
  }
  assert.fail(`accepted:\n${text}`);
}

test("a role's tools entry that matches no tool is refused, with the likely spelling (denials too)", () => {
  const message = refusal('[roles.me]\nidentities = ["*"]\ntools = ["execute_qurey", "list_*", "!fetch_resluts"]\n');
  assert.match(message, /^Config error in \/etc\/snowmux\/config\.toml at roles\.me\.tools: "execute_qurey" matches no tool \(did you mean "execute_query"\?\)/m);
  assert.match(message, /at roles\.me\.tools: "!fetch_resluts" matches no tool \(did you mean "!fetch_results"\?\)/);
  assert.doesNotMatch(message, /"list_\*"/, 'a glob that matches a tool is fine');
  // Team tools are tools a role may name.
  checkHubConfig(loaded('[tools.mine]\ndescription = "d"\nsql = "SELECT 1"\n[roles.me]\nidentities = ["*"]\ntools = ["mine", "cortex_*"]\n'), { env });
});

test('a team tool may not take the name of any built-in tool', () => {
  for (const name of BUILTIN_TOOL_NAMES) {
    assert.match(refusal(`[tools.${name}]\ndescription = "d"\nsql = "SELECT 1"\n`), new RegExp(`at tools\\.${name}: "${name}" is a built-in tool`));
  }
});

test('a team tool parameter may not be named limit, the row cap every team tool takes', () => {
  const message = refusal('[tools.above]\ndescription = "d"\nsql = "SELECT ? AS V"\n[[tools.above.params]]\nname = "limit"\ntype = "number"\ndescription = "a threshold"\n');
  assert.match(message, /at tools\.above\.params: "limit" is the row cap every team tool takes; give the parameter another name/);
});

test('a profile named by a role or by hub.default_profile must be defined (config.toml or connections.toml)', (t) => {
  assert.match(refusal('[roles.me]\nidentities = ["*"]\nprofile = "dev"\n'), /at roles\.me\.profile: Snowflake profile "dev" is not defined\. Add \[profiles\.dev\] to \/etc\/snowmux\/config\.toml or \[dev\] to /);
  assert.match(refusal('[hub]\ndefault_profile = "prod"\n[profiles.dev]\naccount = "a"\nuser = "u"\n'), /at hub\.default_profile: Snowflake profile "prod" is not defined\..*name a defined profile: dev\./);
  assert.match(refusal('[hub]\nhttp_shim_profiles = ["analyts"]\n[profiles.analyst]\naccount = "a"\nuser = "u"\n'), /at hub\.http_shim_profiles: Snowflake profile "analyts" is not defined \(did you mean "analyst"\?\)/);
  checkHubConfig(loaded('[profiles.dev]\naccount = "a"\nuser = "u"\n[roles.me]\nidentities = ["*"]\nprofile = "dev"\n'), { env });
  // A connection of Snowflake's own file counts.
  const home = mkdtempSync(join(tmpdir(), 'smx-check-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  mkdirSync(join(home, '.snowflake'), { mode: 0o700 });
  writeFileSync(join(home, '.snowflake', 'connections.toml'), '[dev]\naccount = "a"\nuser = "u"\n', { mode: 0o600 });
  checkHubConfig(loaded('[roles.me]\nidentities = ["*"]\nprofile = "dev"\n'), { env: { HOME: home }, homedir: home });
});

test("the hub's own --profile or SNOWMUX_PROFILE must be defined too, and wins over hub.default_profile", () => {
  const text = '[hub]\ndefault_profile = "nope"\n[profiles.alpha]\naccount = "a"\nuser = "u"\n';
  const check = (profile: { name: string; from: string }) => checkHubConfig(loaded(text), { env, homedir: env.HOME, profile });
  for (const from of ['--profile', 'SNOWMUX_PROFILE']) {
    assert.throws(() => check({ name: 'alfa', from }), (err: unknown) => {
      assert.ok(err instanceof SnowmuxError && err.code === 'CONFIG_INVALID');
      assert.equal(err.message, `Error in ${from}: Snowflake profile "alfa" is not defined (did you mean "alpha"?). Add [profiles.alfa] to /etc/snowmux/config.toml or [alfa] to ~/.config/snowflake/connections.toml, or name a defined profile: alpha.`);
      return true;
    });
  }
  // The hub's choice replaces default_profile, which is then not what the hub serves with.
  check({ name: 'alpha', from: '--profile' });
});

test('http_auth = false off loopback is refused before the hub binds anything, from the file or --http', () => {
  assert.match(refusal('[hub]\nhttp_listen = "0.0.0.0:8765"\nhttp_auth = false\n'), /at hub\.http_auth: false is allowed only on a loopback listener, and 0\.0\.0\.0:8765 \(hub\.http_listen\)/);
  assert.match(refusal('[hub]\nhttp_auth = false\n', { httpListen: '10.0.0.1:8765' }), /10\.0\.0\.1:8765 \(--http\)/);
  checkHubConfig(loaded('[hub]\nhttp_listen = "127.0.0.1:8765"\nhttp_auth = false\n'), { env });
});

test('every problem is reported at once, one line each, with the team tool and policy checks', () => {
  const message = refusal(`
[tools.bad]
description = "d"
sql = "DELETE FROM ORDERS"
[roles.me]
identities = ["*"]
tools = ["nope"]
profile = "nowhere"
`);
  const lines = message.split('\n');
  assert.equal(lines.length, 3, message);
  assert.ok(lines.every((l) => l.startsWith(`Config error in ${FILE} at `)), message);
});

// The OTLP collector's key (otel_headers) and the team Redis password go to another machine unencrypted
// over http:// and redis://: said (start, reload, doctor all pass here), not refused, as a private network
// may be meant. Loopback, https:// and rediss:// are fine, and a header-less or password-less one has nothing to hide.
test('a secret the hub would send in the clear to another machine (OTLP headers over http, a Redis password over redis://) is a warning', () => {
  const warningsOf = (text: string, extraEnv: NodeJS.ProcessEnv = {}): string[] => {
    const file = loaded(text);
    checkHubConfig(file, { env: { ...env, ...extraEnv } });
    return file.warnings;
  };
  const otel = warningsOf('[hub]\notel_endpoint = "http://203.0.113.7:4318"\n[hub.otel_headers]\nauthorization = "Bearer OTEL-KEY-1"\n');
  assert.equal(otel.length, 1);
  assert.match(otel[0]!, /^hub\.otel_endpoint http:\/\/203\.0\.113\.7:4318 is plain http:\/\/ to another machine, and hub\.otel_headers \(authorization\) go with every export: the collector's key travels in the clear\. Use https:\/\//);
  assert.ok(!otel[0]!.includes('OTEL-KEY-1'));
  assert.match(warningsOf('[hub.otel_headers]\nx-api-key = "k"\n', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.internal:4318' })[0] ?? '', /^OTEL_EXPORTER_OTLP_ENDPOINT http:\/\/collector\.internal:4318 is plain http:\/\//);
  for (const url of ['redis://:REDIS-PW-2@203.0.113.7:6379', 'redis://default:REDIS-PW-2@redis.internal:6379/0', 'redis://203.0.113.7:6379/0?password=REDIS-PW-2', 'redis://:SLASH/REDIS-PW-2@203.0.113.7:6379']) {
    const redis = warningsOf(`[hub]\nredis_url = "${url}"\n`);
    assert.equal(redis.length, 1, url);
    assert.match(redis[0]!, /^hub\.redis_url redis:\/\/.* sends its password over plain redis:\/\/ to another machine: it travels in the clear.*Use rediss:\/\/ \(TLS\)/, url);
    assert.ok(!redis[0]!.includes('REDIS-PW-2'), redis[0]);
  }
  for (const quiet of [
    '[hub]\notel_endpoint = "https://203.0.113.7:4318"\n[hub.otel_headers]\nauthorization = "Bearer k"\n',
    '[hub]\notel_endpoint = "http://127.0.0.1:4318"\n[hub.otel_headers]\nauthorization = "Bearer k"\n',
    '[hub]\notel_endpoint = "http://203.0.113.7:4318"\n',
    '[hub]\nredis_url = "rediss://:pw@203.0.113.7:6379"\n',
    '[hub]\nredis_url = "redis://:pw@127.0.0.1:6379"\n',
    '[hub]\nredis_url = "redis://:pw@[::1]:6379"\n',
    '[hub]\nredis_url = "redis://203.0.113.7:6379"\n',
    '[hub]\nhttp_listen = "127.0.0.1:0"\n',
    '[hub]\nhttp_listen = "[::1]:8080"\n',
  ]) assert.deepEqual(warningsOf(quiet), [], quiet);
  // The hub speaks plain HTTP: a face other machines reach sends the editors' keys in the clear unless TLS is
  // terminated in front, which the hub cannot see.
  for (const listen of ['0.0.0.0:8080', '10.1.2.3:80', '[::]:8080']) {
    const http = warningsOf(`[hub]\nhttp_listen = "${listen}"\n`);
    assert.equal(http.length, 1, listen);
    assert.match(http[0]!, /^hub\.http_listen .* serves plain HTTP to other machines: the editors' API keys and every result travel in the clear.*TLS proxy or ingress/, listen);
  }
  const flagged = loaded('');
  checkHubConfig(flagged, { env, httpListen: '0.0.0.0:0' });
  assert.match(flagged.warnings.join('\n'), /^--http 0\.0\.0\.0:0 serves plain HTTP to other machines/m);
});

test('a role that would match no session is refused, naming it: neither identities nor clients, or an empty list; the default role may set neither', () => {
  assert.match(refusal('[roles.r]\ntools = ["list_*"]\n'), /at roles\.r: the role sets neither identities nor clients, so no session gets it .*Add identities = \["\*"\]/);
  assert.match(refusal('[roles.r]\nidentities = []\n'), /at roles\.r\.identities: an empty list matches no identity, so no session gets the role/);
  assert.match(refusal('[roles.r]\nidentities = ["*"]\nclients = []\n'), /at roles\.r\.clients: an empty list matches no client/);
  // The default role is picked when none matches: it needs no identities, under either way of naming it.
  checkHubConfig(loaded('[roles.fallback]\ntools = ["list_*"]\n[policy]\ndefault_role = "fallback"\n'), { env });
  checkHubConfig(loaded('[roles.default]\ntools = ["list_*"]\n'), { env });
  checkHubConfig(loaded('[roles.r]\nclients = ["cursor*"]\n'), { env });
});

test('byte and partition scan limits on a hub serving the embedded warehouse are warned about: DuckDB estimates rows only', () => {
  const warningsOf = (text: string, extraEnv: NodeJS.ProcessEnv = {}): string[] => {
    const file = loaded(text);
    checkHubConfig(file, { env: { ...env, ...extraEnv }, homedir: env.HOME });
    return file.warnings;
  };
  const scanner = '[roles.scanner]\nidentities = ["*"]\nmax_scan_bytes = 1\nmax_scan_partitions = 1\nmax_scan_rows = 1000\n[roles.scanner.quota]\nwindow = "1h"\nscan_bytes = 1\n';
  const [warning, ...others] = warningsOf(scanner);
  assert.deepEqual(others, []);
  assert.equal(
    warning,
    '/etc/snowmux/config.toml roles.scanner: max_scan_bytes, max_scan_partitions, quota.scan_bytes have no effect on the embedded warehouse, which this hub serves to every session without Snowflake settings of its own: ' +
      'DuckDB estimates the rows a statement reads, not bytes or partitions, so role "scanner"\'s calls there are not held to them. Use max_scan_rows for the embedded warehouse, or give the role a Snowflake profile (roles.<name>.profile).',
  );
  assert.match(warningsOf('[roles.b]\nidentities = ["*"]\nmax_scan_bytes = 5\n')[0] ?? '', /roles\.b: max_scan_bytes has no effect on the embedded warehouse.*not held to it\./);
  // Rows apply there; a role on a Snowflake profile, or a hub whose own settings are Snowflake's, is not concerned.
  for (const quiet of [
    '[roles.r]\nidentities = ["*"]\nmax_scan_rows = 1000\n',
    `[profiles.dev]\naccount = "a"\nuser = "u"\npassword = "p"\n${scanner.replace('max_scan_rows = 1000\n', 'max_scan_rows = 1000\nprofile = "dev"\n')}`,
    `[hub]\ndefault_profile = "dev"\n[profiles.dev]\naccount = "a"\nuser = "u"\npassword = "p"\n${scanner}`,
  ]) {
    assert.deepEqual(warningsOf(quiet).filter((w) => /embedded/.test(w)), [], quiet);
  }
  assert.deepEqual(warningsOf(scanner, { SNOWFLAKE_ACCOUNT: 'a', SNOWFLAKE_USER: 'u', SNOWFLAKE_PASSWORD: 'p' }).filter((w) => /embedded/.test(w)), []);
});
