import { shellWord } from '../../src/shell-word.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENTS, claudeCodeCommand, configFileFor, mergeIntoConfig, snippetFor, type ClientId } from '../../src/cli/editor-configs.js';

const launch = { command: '/opt/node 20/bin/node', args: ['/opt/snowmux/bin/snowmux.js', 'shim'] };

test('each client gets its own shape: VS Code uses "servers" with a type, the others "mcpServers"', () => {
  assert.deepEqual(snippetFor('vscode', 'snowflake', launch), { servers: { snowflake: { type: 'stdio', ...launch } } });
  assert.deepEqual(snippetFor('cursor', 'sf', launch), { mcpServers: { sf: launch } });
  assert.deepEqual(snippetFor('claude-desktop', 'sf', launch), { mcpServers: { sf: launch } });
  for (const id of Object.keys(CLIENTS) as ClientId[]) {
    const entry = Object.values(Object.values(snippetFor(id, 'x', launch))[0] as object)[0] as { command: string; args: string[]; env?: unknown };
    assert.equal(entry.command, launch.command, `${id}: absolute node`);
    assert.deepEqual(entry.args, launch.args, `${id}: absolute CLI path`);
    assert.equal(entry.env, undefined, `${id}: no profile or setting a fresh machine lacks`);
  }
});

test('config files live where each client reads them, per OS', () => {
  const home = '/home/u';
  const env = { HOME: home };
  assert.equal(configFileFor('claude-desktop', 'darwin', env), '/home/u/Library/Application Support/Claude/claude_desktop_config.json');
  assert.equal(configFileFor('claude-desktop', 'win32', { ...env, APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }), 'C:\\Users\\u\\AppData\\Roaming/Claude/claude_desktop_config.json');
  assert.equal(configFileFor('claude-desktop', 'linux', env), '/home/u/.config/Claude/claude_desktop_config.json');
  assert.equal(configFileFor('vscode', 'linux', { ...env, XDG_CONFIG_HOME: '/xdg' }), '/xdg/Code/User/mcp.json');
  assert.equal(configFileFor('cursor', 'linux', env), '/home/u/.cursor/mcp.json');
  assert.equal(configFileFor('windsurf', 'darwin', env), '/home/u/.codeium/windsurf/mcp_config.json');
  assert.match(configFileFor('roo-code', 'darwin', env)!, /Code\/User\/globalStorage\/rooveterinaryinc\.roo-cline\/settings\/mcp_settings\.json$/);
  assert.equal(configFileFor('claude-code', 'linux', env), undefined);
});

test('Claude Code: options before the name, the launch after --, quoted for a shell', () => {
  assert.equal(
    claudeCodeCommand('snowflake', launch),
    "claude mcp add --transport stdio --scope user snowflake -- '/opt/node 20/bin/node' /opt/snowmux/bin/snowmux.js shim",
  );
  assert.equal(shellWord("it's"), `'it'\\''s'`);
});

test('merging keeps every other server and key, and says when it replaced an entry', () => {
  const existing = JSON.stringify({ theme: 'dark', mcpServers: { github: { command: 'gh-mcp' }, snowflake: { command: 'old' } } });
  const { text, replaced } = mergeIntoConfig(existing, 'cursor', 'snowflake', launch, 'mcp.json');
  assert.equal(replaced, true);
  assert.deepEqual(JSON.parse(text), { theme: 'dark', mcpServers: { github: { command: 'gh-mcp' }, snowflake: launch } });
  const fresh = mergeIntoConfig(undefined, 'vscode', 'snowflake', launch, 'mcp.json');
  assert.equal(fresh.replaced, false);
  assert.deepEqual(JSON.parse(fresh.text), { servers: { snowflake: { type: 'stdio', ...launch } } });
  assert.deepEqual(JSON.parse(mergeIntoConfig('  \n', 'cursor', 'sf', launch, 'f').text), { mcpServers: { sf: launch } });
});

test("replacing an entry keeps its env (a Python server's SNOWFLAKE_* settings, which the shim hands its hub) and the editor's own keys, and says which; how it reached the server goes", () => {
  const python = {
    command: 'uvx',
    args: ['snowflake-mcp-server'],
    url: 'http://old',
    env: { SNOWFLAKE_ACCOUNT: 'acme-prod', SNOWFLAKE_USER: 'ALICE', SNOWFLAKE_PASSWORD: 'Sekr3t!' },
    autoApprove: ['list_databases'],
    timeout: 120,
  };
  const { text, replaced, kept } = mergeIntoConfig(JSON.stringify({ mcpServers: { snowflake: python } }), 'cursor', 'snowflake', launch, 'mcp.json');
  assert.equal(replaced, true);
  assert.deepEqual(JSON.parse(text), { mcpServers: { snowflake: { env: python.env, autoApprove: ['list_databases'], timeout: 120, ...launch } } });
  assert.deepEqual(kept, ['env (SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_PASSWORD)', 'autoApprove', 'timeout']);
  assert.ok(!kept.join().includes('Sekr3t'), 'names only, never values');
  // An env the editor would refuse (not an object of strings) is not carried into the new entry.
  for (const env of ['SNOWFLAKE_PASSWORD=x', ['a'], { A: 1 }]) {
    const bad = mergeIntoConfig(JSON.stringify({ mcpServers: { snowflake: { command: 'old', env } } }), 'cursor', 'snowflake', launch, 'mcp.json');
    assert.deepEqual(JSON.parse(bad.text), { mcpServers: { snowflake: launch } }, JSON.stringify(env));
    assert.deepEqual(bad.kept, []);
  }
});

test('a file far larger than any editor config is refused, not rewritten (rewriting in place grows faster than the file)', () => {
  const huge = JSON.stringify({ mcpServers: Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`s${i}`, { command: 'x'.repeat(80) }])) });
  assert.throws(() => mergeIntoConfig(huge, 'cursor', 'sf', launch, '/x/mcp.json'), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && /more than an editor's MCP config holds/.test(err.message));
});

test('a server name or server list written twice is refused: the editor keeps the last, the edit would change the first', () => {
  const twiceNamed = '{"mcpServers":{"sf":{"command":"old1"},"x":{},"sf":{"command":"old2"}}}';
  const twiceListed = '{"mcpServers":{"a":{"command":"a"}},"other":1,"mcpServers":{"sf":{"command":"old"}}}';
  for (const [text, what] of [[twiceNamed, /the server "sf" in "mcpServers" 2 times/], [twiceListed, /"mcpServers" 2 times/]] as const) {
    assert.throws(() => mergeIntoConfig(text, 'cursor', 'sf', launch, '/x/mcp.json'), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && what.test(err.message) && /Merge them into one by hand/.test(err.message));
  }
  // Another server written twice is not this entry's business: the merge goes on.
  const otherTwice = mergeIntoConfig('{"mcpServers":{"x":{"command":"1"},"x":{"command":"2"}}}', 'cursor', 'sf', launch, '/x/mcp.json');
  assert.equal(otherTwice.replaced, false);
  assert.equal((JSON.parse(otherTwice.text) as { mcpServers: Record<string, { command: string }> }).mcpServers.sf!.command, launch.command);
});

test('a file that starts with a byte-order mark (as Windows editors write them) is merged, the mark kept', () => {
  for (const client of ['claude-desktop', 'cursor'] as const) {
    const { text } = mergeIntoConfig('\uFEFF{"mcpServers":{"other":{"command":"x"}}}', client, 'sf', launch, '/x/c.json');
    assert.ok(text.startsWith('\uFEFF{'), client);
    assert.deepEqual(Object.keys((JSON.parse(text.slice(1)) as { mcpServers: object }).mcpServers), ['other', 'sf'], client);
  }
});

test("the entry is written in the file's own indentation and line ends (tabs, 4 spaces, CRLF)", () => {
  const tabs = '{\r\n\t"servers": {\r\n\t\t"other": {\r\n\t\t\t"command": "x"\r\n\t\t}\r\n\t}\r\n}\r\n';
  const merged = mergeIntoConfig(tabs, 'vscode', 'sf', launch, '/x/mcp.json').text;
  assert.ok(!/^ +"/m.test(merged), merged);
  assert.ok(!/[^\r]\n/.test(merged), 'CRLF kept');
  assert.match(merged, /\r\n\t\t"sf": \{\r\n\t\t\t"type": "stdio"/);
  const four = mergeIntoConfig('{\n    "mcpServers": {\n        "other": { "command": "x" }\n    }\n}\n', 'cursor', 'sf', launch, '/x/mcp.json').text;
  assert.match(four, /\n {8}"sf": \{\n {12}"command"/);
});

test('a JSONC file (comments, trailing commas) is merged in place, its comments kept', () => {
  const jsonc = '{\n  // mine\n  "mcpServers": { "a": { "command": "a" }, },\n}';
  const { text, replaced } = mergeIntoConfig(jsonc, 'cursor', 'sf', launch, '/x/mcp.json');
  assert.equal(replaced, false);
  assert.match(text, /\/\/ mine/);
  assert.match(text, /"sf": \{/);
  assert.equal(mergeIntoConfig(text, 'cursor', 'sf', launch, '/x/mcp.json').replaced, true);
});

test('a client that reads strict JSON (Claude Desktop, Roo Code) is not handed a JSONC file: refused, saying why, never merged', () => {
  const jsonc = '{"mcpServers":{"other":{"command":"x"},}}';
  for (const client of ['claude-desktop', 'roo-code'] as const) {
    assert.throws(() => mergeIntoConfig(jsonc, client, 'sf', launch, '/x/c.json'), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && /not valid JSON, which .+ needs/.test(err.message), client);
    assert.throws(() => mergeIntoConfig('{\n // mine\n "mcpServers": {}\n}', client, 'sf', launch, '/x/c.json'), /not valid JSON/, `${client}: a comment`);
  }
  const merged = JSON.parse(mergeIntoConfig('{"mcpServers":{"other":{"command":"x"}}}', 'claude-desktop', 'sf', launch, '/x/c.json').text) as { mcpServers: Record<string, unknown> };
  assert.deepEqual(Object.keys(merged.mcpServers), ['other', 'sf'], 'strict JSON in, strict JSON out');
});

test('a file snowmux cannot read as a JSON object is refused, never overwritten', () => {
  for (const bad of ['{ "servers": }', '{ "servers": {} } trailing', '[1,2]', 'null', '{"mcpServers": []}', '{"mcpServers": "x"}']) {
    assert.throws(() => mergeIntoConfig(bad, 'cursor', 'sf', launch, '/x/mcp.json'), (err: Error & { code?: string }) => err.code === 'INVALID_ARGUMENT' && /\/x\/mcp\.json/.test(err.message), bad);
  }
});

test('replacing a Roo Code entry the user switched off keeps it off, and says so', () => {
  const off = '{"mcpServers":{"sf":{"command":"python","args":["-m","mcp_snowflake"],"disabled":true,"alwaysAllow":["x"]}}}';
  const { text, replaced, kept } = mergeIntoConfig(off, 'roo-code', 'sf', launch, '/x/mcp_settings.json');
  assert.equal(replaced, true);
  const entry = (JSON.parse(text) as { mcpServers: Record<string, Record<string, unknown>> }).mcpServers['sf']!;
  assert.equal(entry['disabled'], true);
  assert.equal(entry['command'], launch.command);
  assert.ok(kept.some((k) => /^disabled \(it stays switched off/.test(k)), kept.join('; '));
  // An entry that was on (or said nothing) is written on.
  const on = mergeIntoConfig('{"mcpServers":{"sf":{"command":"python","disabled":false}}}', 'roo-code', 'sf', launch, '/x/mcp_settings.json');
  assert.equal((JSON.parse(on.text) as { mcpServers: Record<string, Record<string, unknown>> }).mcpServers['sf']!['disabled'], false);
});
