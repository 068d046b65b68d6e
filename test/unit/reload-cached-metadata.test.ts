/**
 * A call that took its role before a reload, answered from the metadata cache after it: a cache hit ends
 * the statement before rules-current, the stage that judges a statement again under the rules as a reload
 * left them. The reload empties the cache, but another caller (whose role may still use the object) fills
 * it again, and the earlier call's description of an object its role may no longer use came from there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { parseConfigText } from '../../src/hub/config/config-file.js';
import { Governance } from '../../src/hub/governance/governance.js';
import { createLogger } from '../../src/hub/observe/logger.js';
import { CallPipeline, type ToolBody } from '../../src/hub/pipeline/call-pipeline.js';
import { DEFAULT_LIMITS } from '../../src/hub/pipeline/hub-limits.js';
import { Policy } from '../../src/hub/policy/policy.js';
import { Session } from '../../src/hub/session/session.js';
import type { Warehouse } from '../../src/hub/warehouse/types.js';
import type { WarehouseProvider, WarehouseTarget } from '../../src/hub/warehouse/warehouse-registry.js';

const policyOf = (text: string) => Policy.fromConfig(parseConfigText(text, 't.toml'), 't.toml');
const LIMITS = { defaultRate: { perSecond: 1000, burst: 1000 }, retryAttempts: 0, retryBudgetMs: 0 };
const ROLES = '[roles.ann]\nidentities = ["ann"]\n[roles.bob]\nidentities = ["bob"]\n';

test('a call that began before a reload denied an object is not answered about it from the metadata cache', async () => {
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  const governance = new Governance({ policy: policyOf(ROLES), logger, limits: { maxConcurrentQueries: 4, metadataCacheTtlMs: 60_000, retryAttempts: 0 } });
  const described: string[] = [];
  const warehouse = {
    kind: 'duckdb',
    info: () => ({ kind: 'duckdb', name: 'w', detail: {}, defaultDatabase: 'DB', defaultSchema: 'S', capacity: 2 }),
    async describeObject(ref: { database: string; schema: string; name: string }) {
      described.push(`${ref.database}.${ref.schema}.${ref.name}`);
      return [{ name: 'SALARY', type: 'NUMBER', nullable: true }];
    },
    async close() {},
  } as unknown as Warehouse;
  const target: WarehouseTarget = { kind: 'duckdb', name: 'w', defaultDatabase: 'DB', defaultSchema: 'S', open: async () => warehouse };
  const warehouses: WarehouseProvider = { targetFor: () => target };
  const pipeline = new CallPipeline({ warehouses, governance, limits: DEFAULT_LIMITS, logger, sink: { record: () => undefined } });
  const ann = new Session({ id: 's1', identity: { kind: 'local-user', name: 'ann' }, transport: 'stdio' });
  const bob = new Session({ id: 's2', identity: { kind: 'local-user', name: 'bob' }, transport: 'stdio' });
  let n = 0;
  const call = (session: Session, body: ToolBody) => pipeline.run(session, 'describe_table', { id: String(++n), signal: new AbortController().signal }, {}, body);
  const describe: ToolBody = async ({ warehouse: w, ctx }) => ({
    content: [{ type: 'text', text: (await w.describeObject({ database: 'DB', schema: 'HR', name: 'PAY' }, 'table', ctx)).map((c) => c.name).join(',') }],
  });

  // Ann's call has taken its role (HR allowed) and is between two statements when the reload denies HR to her.
  let entered!: () => void;
  const inBody = new Promise<void>((resolve) => (entered = resolve));
  let reloaded!: () => void;
  const afterReload = new Promise<void>((resolve) => (reloaded = resolve));
  const annCall = call(ann, async (tool) => {
    entered();
    await afterReload;
    return describe(tool);
  });
  await inBody;
  governance.reconfigure(policyOf(ROLES.replace('identities = ["ann"]\n', 'identities = ["ann"]\ndeny = ["*.HR.*"]\n')), LIMITS);
  // Bob may still describe it: his answer fills the cache again.
  const bobAnswer = await call(bob, describe);
  assert.equal(JSON.stringify(bobAnswer.content), JSON.stringify([{ type: 'text', text: 'SALARY' }]));
  reloaded();
  const annAnswer = await annCall;
  const error = annAnswer._meta?.['dev.snowmux/error'] as { code?: string } | undefined;
  assert.equal(error?.code, 'POLICY_DENIED', JSON.stringify(annAnswer.content));
  assert.match(JSON.stringify(annAnswer.content), /HR/);
  assert.doesNotMatch(JSON.stringify(annAnswer.content), /SALARY/);
  governance.close();
});
