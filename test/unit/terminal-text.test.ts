/**
 * What the CLI prints from text a client or a file chose (`snowmux logs`, `snowmux doctor`) cannot act on
 * the terminal that shows it: escape sequences, C1 controls and bidi overrides come out as escapes, one
 * record per line; --json keeps the same values with those characters as JSON escapes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { logsCommand } from '../../src/cli/commands/logs-command.js';
import { renderChecks } from '../../src/cli/commands/doctor-command.js';
import { formatStatus } from '../../src/cli/commands/status-command.js';
import type { HubStatus } from '../../src/hub/hub.js';
import { tempHome } from '../helpers/harness.js';

const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202e]/u;
/** A hello version that, raw, erases its own line and prints a forged one in its place. */
const FORGED_VERSION = '\u001b[2K\u001b[1G22:00:00.000\u001b[1CINFO\u001b[2C[1]\u001b[1Chub\u001b[1Cstopped';

function capture(): { io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }; text: () => string } {
  let out = '';
  const sink = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream;
  return { io: { stdout: sink, stderr: sink }, text: () => out };
}

test('snowmux logs prints every record on one line, with what the client sent escaped (C0, C1, bidi, line breaks)', async (t) => {
  const home = tempHome(t);
  const records = [
    { level: 30, time: '2026-12-04T22:00:00.000Z', pid: 1, msg: 'session opened', transport: 'websocket', shimVersion: FORGED_VERSION },
    { level: 30, time: '2026-12-04T22:00:01.000Z', pid: 1, msg: 'tool call failed', reason: 'Table with name x\u009b2J\u009b31m\u202eevil does not exist', code: 'OBJECT_NOT_FOUND' },
    { level: 30, time: '2026-12-04T22:00:02.000Z', pid: 1, msg: 'line\nbreak\u2028in a message', client: 'a\r\nb' },
  ];
  writeFileSync(join(home, 'hub.log'), records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const plain = capture();
  assert.equal(await logsCommand(['--home', home], plain.io), 0);
  const lines = plain.text().trimEnd().split('\n');
  assert.equal(lines.length, records.length, plain.text());
  assert.doesNotMatch(plain.text(), RAW, JSON.stringify(plain.text()));
  assert.match(lines[0]!, /shimVersion=\\u001b\[2K\\u001b\[1G22:00:00\.000/);
  assert.match(lines[1]!, /x\\u009b2J\\u009b31m\\u202eevil/);
  assert.match(lines[2]!, /line\\u000abreak\\u2028in a message/);

  const json = capture();
  assert.equal(await logsCommand(['--home', home, '--json'], json.io), 0);
  assert.doesNotMatch(json.text(), RAW, JSON.stringify(json.text()));
  assert.deepEqual(json.text().trimEnd().split('\n').map((l) => JSON.parse(l) as unknown), records, 'the same records, as JSON');
});

test('snowmux doctor shows what the config file and the warehouse said escaped', () => {
  const text = renderChecks([
    { check: 'config', status: 'fail', detail: 'profile "dev\u001b]0;PWNED\u0007" \u009b2J\u202e is unknown', fix: 'fix \u001b[8m it' },
  ]);
  assert.doesNotMatch(text, RAW, JSON.stringify(text));
  assert.match(text, /dev\\u001b\]0;PWNED\\u0007" \\u009b2J\\u202e/);
  assert.match(text, /fix \\u001b\[8m it/);
});

test('a line break in a path (the home, the config, the audit directory) is printed as \\u000a by status and doctor, never as a line of its own', () => {
  const home = '/tmp/odd`id`\nnl';
  const status = formatStatus({
    version: '0.1.0', pid: 7, startedAt: new Date().toISOString(), uptimeMs: 1000, home, socket: `${home}/hub.sock`, state: 'running',
    warehouses: [], sessions: [], recent: [], totals: {},
    audit: { enabled: true, open: true, dir: `${home}/audit`, file: 'audit-000001.jsonl', lastSeq: 3, durableSeq: 3 },
    config: { path: `${home}/config.toml`, exists: false },
  } as unknown as HubStatus);
  assert.match(status, /^home \/tmp\/odd`id`\\u000anl$/m);
  assert.match(status, /^audit {2}\/tmp\/odd`id`\\u000anl\/audit\/audit-000001\.jsonl {2}records 3/m);
  assert.match(status, /^config \/tmp\/odd`id`\\u000anl\/config\.toml/m);
  assert.doesNotMatch(status, /^ *nl/m, 'no line starts with the rest of the path');

  const doctor = renderChecks([{ check: 'home', status: 'fail', detail: `${home} is not writable`, fix: `choose another than ${home}` }]);
  assert.match(doctor, /✗ home {2}\/tmp\/odd`id`\\u000anl is not writable$/m);
  assert.match(doctor, /→ choose another than \/tmp\/odd`id`\\u000anl$/m);
  assert.doesNotMatch(doctor, /^ *nl/m);
});
