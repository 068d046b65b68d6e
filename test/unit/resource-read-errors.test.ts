/**
 * A failed resources/read says whose failure it was, on every face (they share this server): an object
 * that does not exist is the spec's resource-not-found (-32602 with the uri alone as data, which SDK
 * clients recognise as ResourceNotFoundError) and names both kinds a resource can be; a refusal is the
 * caller's -32602 with the hub's code; a warehouse failure is -32603, not "invalid params".
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ProtocolError, ResourceNotFoundError } from '@modelcontextprotocol/client';
import { SnowmuxError } from '../../src/errors.js';
import type { Warehouse } from '../../src/hub/warehouse/types.js';
import { editedSample, type EditedSample } from '../helpers/edited-sample.js';
import { coreOver, localClient } from '../helpers/in-memory-hub.js';

let edited: EditedSample;

before(async () => {
  edited = await editedSample('SELECT 1');
});

after(async () => {
  await edited?.close();
});

const CONFIG = `
[roles.restricted]
identities = ["rita"]
deny = ['*.*.CUSTOMER']
`;

async function readError(read: Promise<unknown>): Promise<ProtocolError> {
  const err = await read.then(() => assert.fail('the read was answered'), (e: unknown) => e);
  assert.ok(err instanceof ProtocolError, String(err));
  return err;
}

test('a resource that does not exist is resource-not-found, named as a table or view', async (t) => {
  const client = await localClient(t, coreOver(t, edited.warehouse, { name: 'embedded', defaultDatabase: 'SNOWMUX_SAMPLE', defaultSchema: 'TPCH' }));
  const uri = 'snowflake://SNOWMUX_SAMPLE/TPCH/NOPE';
  const missing = await readError(client.readResource({ uri }));
  assert.equal(missing.code, -32602);
  assert.deepEqual(missing.data, { uri });
  assert.ok(missing instanceof ResourceNotFoundError, 'SDK clients recognise it');
  assert.match(missing.message, /No table or view SNOWMUX_SAMPLE\.TPCH\.NOPE exists\. Use list_tables or list_views/);
  const schemaUri = 'snowflake://SNOWMUX_SAMPLE/NOPE/NATION';
  const noSchema = await readError(client.readResource({ uri: schemaUri }));
  assert.equal(noSchema.code, -32602);
  assert.deepEqual(noSchema.data, { uri: schemaUri });
  assert.match(noSchema.message, /Schema SNOWMUX_SAMPLE\.NOPE does not exist/);
  // A view is still read as one.
  const view = await client.readResource({ uri: 'snowflake://SNOWMUX_SAMPLE/TPCH/TOP_PARTS' });
  assert.equal((JSON.parse((view.contents[0] as { text: string }).text) as { kind: string }).kind, 'view');
});

test('a refused read is the caller\'s -32602 with the hub\'s code', async (t) => {
  const client = await localClient(t, coreOver(t, edited.warehouse, { name: 'embedded', defaultDatabase: 'SNOWMUX_SAMPLE', defaultSchema: 'TPCH', config: CONFIG }), 'rita');
  const uri = 'snowflake://SNOWMUX_SAMPLE/TPCH/CUSTOMER';
  const denied = await readError(client.readResource({ uri }));
  assert.equal(denied.code, -32602);
  assert.deepEqual(denied.data, { uri, code: 'POLICY_DENIED', retryable: false });
  assert.ok(!(denied instanceof ResourceNotFoundError));
});

test('a warehouse failure during a read is an internal error with its code, not invalid params', async (t) => {
  const inner = edited.warehouse as unknown as Warehouse;
  const failing = new Proxy(inner, {
    get(target, key) {
      if (key === 'describeObject') {
        return async () => {
          throw new SnowmuxError('AUTH_FAILED', 'Snowflake refused the credentials of profile test. Fix its password.');
        };
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const client = await localClient(t, coreOver(t, failing, { name: 'embedded', defaultDatabase: 'SNOWMUX_SAMPLE', defaultSchema: 'TPCH' }));
  const uri = 'snowflake://SNOWMUX_SAMPLE/TPCH/NATION';
  const failed = await readError(client.readResource({ uri }));
  assert.equal(failed.code, -32603);
  assert.deepEqual(failed.data, { uri, code: 'AUTH_FAILED', retryable: false });
  assert.match(failed.message, /refused the credentials/);
});
