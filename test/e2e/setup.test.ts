/**
 * `snowmux setup <client> --write` as a user meets it: the entry lands in the editor's file next to the
 * servers already there, and launching exactly what was written — with a PATH that has no node on it, as
 * GUI editors often start — reaches a working hub.
 */
import { test } from 'node:test';
import { parse as parseJsonc } from 'jsonc-parser';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { defer, runCli, tempHome } from '../helpers/harness.js';
import { killEveryHub } from './chaos-support.js';

test('setup cursor --write merges the entry, keeps a backup, and the written command works with no node on PATH', async (t) => {
  const userHome = tempHome(t, 'smx-user-');
  const home = tempHome(t);
  const file = join(userHome, '.cursor', 'mcp.json');
  mkdirSync(join(userHome, '.cursor'));
  const before = JSON.stringify({ mcpServers: { github: { command: 'gh-mcp', args: [] } } });
  writeFileSync(file, before);

  const r = await runCli(['setup', 'cursor', '--write', '--home', home], { HOME: userHome });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /added "snowflake" to .*\.cursor\/mcp\.json/);
  assert.equal(readFileSync(`${file}.bak`, 'utf8'), before);
  const written = JSON.parse(readFileSync(file, 'utf8')) as { mcpServers: Record<string, { command: string; args: string[] }> };
  assert.deepEqual(written.mcpServers.github, { command: 'gh-mcp', args: [] });
  const entry = written.mcpServers.snowflake!;
  assert.equal(entry.command, process.execPath);
  assert.ok(entry.args[0]!.startsWith('/'), 'absolute path to the CLI');
  assert.deepEqual(entry.args.slice(1), ['shim', '--home', home]);

  defer(t, async () => {
    await runCli(['stop', '--home', home]);
    killEveryHub(home);
  });
  const transport = new StdioClientTransport({ command: entry.command, args: entry.args, env: { PATH: '/nonexistent', HOME: userHome }, stderr: 'ignore' });
  const client = new Client({ name: 'cursor-like', version: '1' });
  await client.connect(transport);
  defer(t, () => client.close());
  const result = await client.callTool({ name: 'execute_query', arguments: { query: 'SELECT count(*) AS n FROM NATION' } });
  assert.notEqual(result.isError, true);
  assert.deepEqual((result.structuredContent as { rows: unknown[][] }).rows, [[25]]);

  // Running it again changes nothing and says so: no rewrite, no backup that repeats the file.
  const withEntry = readFileSync(file, 'utf8');
  const again = await runCli(['setup', 'cursor', '--write', '--home', home], { HOME: userHome });
  assert.match(again.stdout, /already has this "snowflake" entry; nothing written/);
  assert.equal(readFileSync(file, 'utf8'), withEntry);
  assert.equal(existsSync(`${file}.bak.2`), false);
  // A different entry replaces it in place (no duplicate); the first backup (the file from before snowmux)
  // is kept, and what this run replaced is saved beside it.
  const other = await runCli(['setup', 'cursor', '--write', '--home', join(home, 'other')], { HOME: userHome });
  assert.equal(other.code, 0, other.stderr);
  assert.match(other.stdout, /replaced the "snowflake" entry in .*mcp\.json \(previous file saved as .*mcp\.json\.bak\.2\)/);
  assert.deepEqual(Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { mcpServers: object }).mcpServers), ['github', 'snowflake']);
  assert.equal(readFileSync(`${file}.bak`, 'utf8'), before, 'the original from before snowmux stays');
  assert.equal(readFileSync(`${file}.bak.2`, 'utf8'), withEntry);
});

test('setup merges into a JSONC file keeping its comments, refuses one it cannot parse, and prints paste-able entries for the others', async (t) => {
  const userHome = tempHome(t, 'smx-user-');
  const file = join(userHome, '.codeium', 'windsurf', 'mcp_config.json');
  mkdirSync(join(userHome, '.codeium', 'windsurf'), { recursive: true });
  const jsonc = '{\n  // my servers\n  "mcpServers": {\n    "github": { "command": "gh-mcp" }, // keep me\n  },\n}\n';
  writeFileSync(file, jsonc);
  const merged = await runCli(['setup', 'windsurf', '--write'], { HOME: userHome });
  assert.equal(merged.code, 0, merged.stderr);
  const text = readFileSync(file, 'utf8');
  // Both comments kept (the servers object is re-indented around the new entry), both servers there.
  assert.match(text, /\/\/ my servers/);
  assert.match(text, /\/\/ keep me/);
  const servers = (parseJsonc(text) as { mcpServers: Record<string, { command: string }> }).mcpServers;
  assert.deepEqual(Object.keys(servers), ['github', 'snowflake']);
  assert.equal(servers.github!.command, 'gh-mcp');
  assert.equal(readFileSync(`${file}.bak`, 'utf8'), jsonc, 'the original is kept beside it');

  writeFileSync(file, '{ "mcpServers": { "github": } }');
  const r = await runCli(['setup', 'windsurf', '--write'], { HOME: userHome });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is not valid JSON \(ValueExpected on line 1\); snowmux will not rewrite it/);
  assert.equal(readFileSync(file, 'utf8'), '{ "mcpServers": { "github": } }');

  const code = await runCli(['setup', 'claude-code'], { HOME: userHome });
  assert.equal(code.code, 0);
  assert.match(code.stdout, /^claude mcp add --transport stdio --scope user snowflake -- \S+node\S* \S+snowmux\.js shim\n$/);
  const unknown = await runCli(['setup', 'notepad'], { HOME: userHome });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown client "notepad"[\s\S]*claude-desktop/);
  const typo = await runCli(['setup', 'cursr'], { HOME: userHome });
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /Unknown client "cursr"\. Did you mean "cursor"\?/);
});

test('setup --write leaves a read-only editor config alone, and a file it cannot write is named with what to do', async (t) => {
  const userHome = tempHome(t, 'smx-user-');
  const file = join(userHome, '.cursor', 'mcp.json');
  mkdirSync(join(userHome, '.cursor'));
  const before = JSON.stringify({ mcpServers: { github: { command: 'gh-mcp' } } });
  writeFileSync(file, before, { mode: 0o444 });
  const r = await runCli(['setup', 'cursor', '--write'], { HOME: userHome });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /mcp\.json is read-only \(mode 444\); snowmux will not replace it\. Make it writable \(chmod u\+w .*mcp\.json\)[\s\S]*without --write[\s\S]*\[EDITOR_CONFIG_UNWRITABLE\]/);
  assert.equal(readFileSync(file, 'utf8'), before);
  assert.equal(statSync(file).mode & 0o777, 0o444);
  assert.equal(existsSync(`${file}.bak`), false);

  // Where the editor's directory cannot be made (here a file is in the way), the OS error comes with the
  // file it was for and the way around it, not as a bare EACCES/ENOTDIR.
  writeFileSync(join(userHome, '.codeium'), 'not a directory');
  const w = await runCli(['setup', 'windsurf', '--write'], { HOME: userHome });
  assert.equal(w.code, 1);
  assert.match(w.stderr, /Could not write Windsurf's config .*mcp_config\.json: .*(ENOTDIR|EEXIST).*Fix the permissions of .*without --write.*\[EDITOR_CONFIG_UNWRITABLE\]/);
  assert.deepEqual(readdirSync(userHome).sort(), ['.codeium', '.cursor']);
  assert.deepEqual(readdirSync(join(userHome, '.cursor')), ['mcp.json']);
});

test("a home set in the shell ($SNOWMUX_HOME) goes into the editor's entry and the service, which never see that shell", async (t) => {
  const userHome = tempHome(t, 'smx-user-');
  const home = tempHome(t);
  const entry = await runCli(['setup', 'cursor'], { HOME: userHome, SNOWMUX_HOME: home });
  assert.equal(entry.code, 0, entry.stderr);
  const args = (JSON.parse(entry.stdout) as { mcpServers: { snowflake: { args: string[] } } }).mcpServers.snowflake.args;
  assert.deepEqual(args.slice(1), ['shim', '--home', home]);
  assert.match(entry.stderr, /from \$SNOWMUX_HOME/);
  const unit = await runCli(['service', 'install', 'systemd', '--print'], { HOME: userHome, SNOWMUX_HOME: home });
  assert.equal(unit.code, 0, unit.stderr);
  assert.match(unit.stdout, new RegExp(`^ExecStart=\\S+ \\S+ hub --replace --home ${home}$`, 'm'));
  // Without it, the default home: no --home at all.
  const plain = await runCli(['setup', 'cursor'], { HOME: userHome });
  assert.deepEqual((JSON.parse(plain.stdout) as { mcpServers: { snowflake: { args: string[] } } }).mcpServers.snowflake.args.slice(1), ['shim']);
});

test('a ~ in --home and --config is the home directory, as a shell would read it: editors start the shim without one', async (t) => {
  const userHome = tempHome(t, 'smx-user-');
  const editorCwd = tempHome(t, 'smx-cwd-');
  const config = join(userHome, 'team.toml');
  writeFileSync(config, '');
  const r = await runCli(['setup', 'cursor', '--home', '~/work', '--config', '~/team.toml'], { HOME: userHome }, undefined, editorCwd);
  assert.equal(r.code, 0, r.stderr);
  const args = (JSON.parse(r.stdout) as { mcpServers: { snowflake: { args: string[] } } }).mcpServers.snowflake.args;
  assert.deepEqual(args.slice(1), ['shim', '--home', join(userHome, 'work'), '--config', config]);
  const other = await runCli(['setup', 'cursor', '--home', '~bob/work'], { HOME: userHome }, undefined, editorCwd);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /--home ~bob\/work starts with "~name".*Write the path out in full\. \[HOME_UNUSABLE\]/);
  const doctor = await runCli(['doctor', '--home', join(userHome, 'work'), '--config', '~/nu.toml'], { HOME: userHome }, undefined, editorCwd);
  assert.match(doctor.stdout + doctor.stderr, new RegExp(`${join(userHome, 'nu.toml')} does not exist`));

  // The entry as an editor writes it by hand, with a literal ~: one home under the user's, none under the cwd.
  const home = join(userHome, 'hand');
  defer(t, async () => {
    await runCli(['stop', '--home', home]);
    killEveryHub(home);
    killEveryHub(join(editorCwd, '~', 'hand')); // where a literal ~ started one
  });
  const transport = new StdioClientTransport({ command: process.execPath, args: [args[0]!, 'shim', '--home', '~/hand'], env: { PATH: '/nonexistent', HOME: userHome }, cwd: editorCwd, stderr: 'ignore' });
  const client = new Client({ name: 'hand-written', version: '1' });
  await client.connect(transport);
  defer(t, () => client.close());
  await client.listTools();
  assert.ok(existsSync(join(home, 'hub.log')), 'the hub runs in ~/hand');
  assert.deepEqual(readdirSync(editorCwd), [], 'nothing under the directory the editor started in');
  const status = await runCli(['status', '--json', '--home', '~/hand'], { HOME: userHome }, undefined, editorCwd);
  assert.equal(status.code, 0, status.stderr);
});

test('a config file set for setup ($SNOWMUX_CONFIG, relative) goes into the entry absolute, and the hub the written entry starts runs with it', async (t) => {
  const userHome = tempHome(t, 'smx-user-');
  const home = tempHome(t);
  // A team's config kept outside the home, named relative to where the user runs setup.
  const teamDir = join(userHome, 'team');
  mkdirSync(teamDir);
  const config = join(teamDir, 'snowmux.toml');
  writeFileSync(config, `[tools.nation_count]
description = "How many nations"
sql = "SELECT count(*) AS n FROM NATION WHERE N_NATIONKEY >= ?"

[[tools.nation_count.params]]
name = "from_key"
type = "integer"
description = "Smallest nation key"
`);
  const r = await runCli(['setup', 'vscode', '--write'], { HOME: userHome, SNOWMUX_HOME: home, SNOWMUX_CONFIG: 'snowmux.toml' }, undefined, teamDir);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`passes --config ${config}, from \\$SNOWMUX_CONFIG`));
  const file = join(userHome, '.config', 'Code', 'User', 'mcp.json');
  const entry = (JSON.parse(readFileSync(file, 'utf8')) as { servers: Record<string, { type: string; command: string; args: string[] }> }).servers.snowflake!;
  assert.deepEqual(entry.args.slice(1), ['shim', '--home', home, '--config', config], 'home and config, both absolute');

  // Launched as the editor would: from another directory, no SNOWMUX_* in its environment, no node on PATH.
  defer(t, async () => {
    await runCli(['stop', '--home', home]);
    killEveryHub(home);
  });
  const transport = new StdioClientTransport({ command: entry.command, args: entry.args, env: { PATH: '/nonexistent', HOME: userHome }, cwd: '/', stderr: 'ignore' });
  const client = new Client({ name: 'vscode-like', version: '1' });
  await client.connect(transport);
  defer(t, () => client.close());
  const tools = (await client.listTools()).tools.map((x) => x.name);
  assert.ok(tools.includes('nation_count'), `the config's team tool is offered: ${tools.join(', ')}`);
  const result = await client.callTool({ name: 'nation_count', arguments: { from_key: 20 } });
  assert.notEqual(result.isError, true, JSON.stringify(result));
  assert.deepEqual((result.structuredContent as { rows: unknown[][] }).rows, [[5]]);
  const status = JSON.parse((await runCli(['status', '--json', '--home', home])).stdout) as { config: { path: string; exists: boolean } };
  assert.equal(status.config.path, config);
  assert.equal(status.config.exists, true);

  // The same for a service; a config that does not exist is refused before anything is written.
  const unit = await runCli(['service', 'install', 'systemd', '--print'], { HOME: userHome, SNOWMUX_CONFIG: config });
  assert.match(unit.stdout, new RegExp(`^ExecStart=\\S+ \\S+ hub --replace --config ${config}$`, 'm'));
  const missing = await runCli(['setup', 'cursor', '--write'], { HOME: userHome, SNOWMUX_CONFIG: join(teamDir, 'typo.toml') });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /typo\.toml \(from \$SNOWMUX_CONFIG\) does not exist.*\[CONFIG_NOT_FOUND\]/);
  assert.equal(existsSync(join(userHome, '.cursor')), false, 'nothing written');
});

test('a profile chosen for setup ($SNOWMUX_PROFILE or --profile) goes into the entry as the shim\'s --profile', async (t) => {
  const userHome = tempHome(t, 'smx-user-');
  mkdirSync(join(userHome, '.snowflake'));
  writeFileSync(join(userHome, '.snowflake', 'connections.toml'), '[analytics]\naccount = "acme"\n\n["dev team"]\naccount = "acme"\n', { mode: 0o600 });
  const fromEnv = await runCli(['setup', 'windsurf'], { HOME: userHome, SNOWMUX_PROFILE: 'analytics' });
  assert.equal(fromEnv.code, 0, fromEnv.stderr);
  assert.deepEqual((JSON.parse(fromEnv.stdout) as { mcpServers: { snowflake: { args: string[] } } }).mcpServers.snowflake.args.slice(1), ['shim', '--profile', 'analytics']);
  assert.match(fromEnv.stderr, /passes --profile analytics, from \$SNOWMUX_PROFILE/);
  const code = await runCli(['setup', 'claude-code', '--profile', 'dev team'], { HOME: userHome });
  assert.match(code.stdout, /^claude mcp add --transport stdio --scope user snowflake -- \S+ \S+snowmux\.js shim --profile 'dev team'\n$/);
});

test('setup refuses a profile that is not defined anywhere: the entry would fail every call as pasted', async (t) => {
  const userHome = tempHome(t, 'smx-user-');
  const none = await runCli(['setup', 'cursor', '--profile', 'nope'], { HOME: userHome });
  assert.equal(none.code, 1);
  assert.equal(none.stdout, '', 'no entry printed');
  assert.match(none.stderr, /Snowflake profile "nope" is not defined, so every call of an editor set up with it would fail\. Add \[profiles\.nope\] to .*config\.toml or \[nope\] to .*connections\.toml, or leave --profile out/);
  mkdirSync(join(userHome, '.snowflake'));
  writeFileSync(join(userHome, '.snowflake', 'connections.toml'), '[dev]\naccount = "acme"\n', { mode: 0o600 });
  const fromEnv = await runCli(['setup', 'cursor', '--write'], { HOME: userHome, SNOWMUX_PROFILE: 'prod' });
  assert.equal(fromEnv.code, 1);
  assert.match(fromEnv.stderr, /"prod" \(from \$SNOWMUX_PROFILE\) is not defined.*name a defined profile: dev\./);
  assert.ok(!existsSync(join(userHome, '.cursor', 'mcp.json')), 'nothing written');
  assert.equal((await runCli(['setup', 'cursor', '--profile', 'dev'], { HOME: userHome })).code, 0);
});

/** runCli under `mask`: the child takes the umask it is spawned with. */
async function runCliWithUmask(mask: number, args: string[], env: Record<string, string>): Promise<Awaited<ReturnType<typeof runCli>>> {
  const before = process.umask(mask);
  try {
    return await runCli(args, env);
  } finally {
    process.umask(before);
  }
}

test('setup --write makes the editor config directories 0700 whatever the umask, and refuses a directory other users may write', async (t) => {
  const userHome = tempHome(t, 'smx-user-');
  const home = tempHome(t);
  for (const client of ['cursor', 'vscode']) {
    const r = await runCliWithUmask(0o000, ['setup', client, '--write', '--home', home], { HOME: userHome });
    assert.equal(r.code, 0, r.stderr);
  }
  for (const dir of ['.cursor', '.config', join('.config', 'Code'), join('.config', 'Code', 'User')]) {
    assert.equal(statSync(join(userHome, dir)).mode & 0o777, 0o700, `${dir} is closed to others`);
  }
  assert.equal(statSync(join(userHome, '.cursor', 'mcp.json')).mode & 0o777, 0o600);

  // A directory every user may write: another user could swap the config (its command runs as the user).
  const shared = join(userHome, '.codeium', 'windsurf');
  mkdirSync(shared, { recursive: true });
  chmodSync(shared, 0o777);
  const refused = await runCli(['setup', 'windsurf', '--write', '--home', home], { HOME: userHome });
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /EDITOR_CONFIG_UNWRITABLE/);
  assert.match(refused.stderr, /may be written by other users \(mode 0777\), who could replace Windsurf's config with their own commands.*chmod o-w .*Nothing was written/s);
  assert.deepEqual(readdirSync(shared), []);
  // So is one below a directory others may write.
  chmodSync(shared, 0o700);
  chmodSync(join(userHome, '.codeium'), 0o777);
  const below = await runCli(['setup', 'windsurf', '--write', '--home', home], { HOME: userHome });
  assert.equal(below.code, 1, below.stderr);
  assert.match(below.stderr, /\.codeium, which is writable by others without the sticky bit/);
  assert.deepEqual(readdirSync(shared), []);
});
