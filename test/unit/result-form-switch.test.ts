/**
 * A reload that switches a role to `result_form = "text"` while a 2026-07-28 client (a server per request)
 * holds a listing with output schemas: its results keep their structured content until that listing's
 * ttl is over (the SDK client threw "has an output schema but did not return structured content"). A
 * session never offered output schemas gets the text alone, as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ToolEnv } from '../../src/hub/tools/tool-runtime.js';
import { Held } from '../helpers/in-process-face.js';
import { clientOf, coreOver } from '../helpers/in-memory-hub.js';

function hub(t: { after(fn: () => unknown): void }) {
  const core = coreOver(t, new Held(), { name: 'held' });
  /** A session whose role's result form the test sets (as a reload would). */
  const session = () => {
    const attached = core.attachSession({ identity: { kind: 'api-key', name: 'alice' }, transport: 'http' }, { drain: () => {}, outstanding: () => 0, close: () => {} });
    t.after(() => attached.detach('test over'));
    const form = { now: 'both' as 'both' | 'text' };
    const pipeline = Object.create(attached.env.pipeline, { resultFormOf: { value: () => form.now } }) as ToolEnv['pipeline'];
    return { env: { ...attached.env, pipeline }, form };
  };
  return { session };
}

// Each clientOf is one request's server, as a 2026-07-28 HTTP request gets: a fresh server for the session.
const query = { name: 'execute_query', arguments: { query: 'select 1' } };

test('switched to text after a listing with output schemas: results keep structured content; the new listing has no schemas', async (t) => {
  const { session } = hub(t);
  const { env, form } = session();
  const before = await clientOf(t, env);
  const listed = await before.listTools();
  assert.ok(listed.tools.find((x) => x.name === 'execute_query')?.outputSchema, 'listed with an output schema');
  form.now = 'text';
  const after = await clientOf(t, env);
  const result = await after.callTool(query);
  assert.ok(!result.isError, JSON.stringify(result));
  assert.ok(result.structuredContent, 'the listing the client holds declares an output schema');
  assert.equal((await after.listTools()).tools.find((x) => x.name === 'execute_query')?.outputSchema, undefined);
});

test('a session always in text form gets the text alone', async (t) => {
  const { session } = hub(t);
  const { env, form } = session();
  form.now = 'text';
  const client = await clientOf(t, env);
  const result = await client.callTool(query);
  assert.ok(!result.isError, JSON.stringify(result));
  assert.equal(result.structuredContent, undefined);
  assert.ok((result.content as { text: string }[])[0]?.text);
});
