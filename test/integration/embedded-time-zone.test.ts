/**
 * The embedded warehouse's time-zone-dependent results do not depend on the TZ of whatever process started the
 * hub (a shim passes its editor's TZ on to the hub it starts): DuckDB's TimeZone is set on every connection
 * (UTC), and status says which zone applies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, runCli, startHub, tempHome, textOf } from '../helpers/harness.js';

// On the date summer time ends in Europe, where a zone's offset shows most.
const SQL = `SELECT TIMESTAMPTZ '2026-10-25 02:30:00' AS tz_no_offset, TIMESTAMP '2026-10-25 02:30:00'::TIMESTAMPTZ AS ntz_to_tz,
  strftime(TIMESTAMPTZ '2026-10-25 00:30:00+00', '%H:%M %Z') AS shown, date_trunc('day', TIMESTAMPTZ '2026-10-25 12:00:00+00') AS day_start,
  TIMESTAMPTZ '2026-10-25 00:30:00+00' AT TIME ZONE 'Europe/Berlin' AS berlin`;

test('the same query gives the same instants on a hub started under TZ=UTC and under TZ=Europe/Berlin', { timeout: 120_000 }, async (t) => {
  const answers: unknown[] = [];
  const shown: (string | undefined)[] = [];
  for (const zone of ['UTC', 'Europe/Berlin']) {
    const home = tempHome(t);
    await startHub(t, home, [], { TZ: zone });
    const c = await connectClient(t, { home, kind: 'v2-legacy', env: { TZ: zone } });
    const r = await c.callTool('execute_query', { query: SQL });
    assert.ok(!r.isError, textOf(r));
    answers.push((r.structuredContent as { rows: unknown }).rows);
    const status = JSON.parse((await runCli(['status', '--home', home, '--json'])).stdout) as { warehouses: { kind: string; detail: { timeZone?: string } }[] };
    shown.push(status.warehouses.find((w) => w.kind === 'duckdb')?.detail.timeZone);
    await c.close();
  }
  assert.deepEqual(answers[1], answers[0]);
  assert.match(JSON.stringify(answers[0]), /2026-10-25T02:30:00.*00:30 UTC.*2026-10-25T00:00:00.*"2026-10-25T02:30:00"/, 'a zone named in the query still applies');
  assert.deepEqual(shown, ['UTC', 'UTC'], 'status says which zone applies');
});
