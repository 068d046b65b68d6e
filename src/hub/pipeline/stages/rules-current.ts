/**
 * Statement stage, once the statement holds its slot (after the fair queue and the team's slot): a statement
 * judged under rules that a reload (`snowmux reload`, SIGHUP) has changed since its call took its role is
 * judged again, under the role its session has now, before anything is sent. A call waits in the queue up to
 * its deadline (minutes): judged only as it entered, a call queued before an operator took a tool or an
 * object away from a role ran with the rights taken away, and so did each later statement of a call that
 * had begun before the reload. Statements already running in the warehouse finish as they were admitted.
 *
 * Judged again: the tool, then the same rule stages as before the queue (sql-policy, call-context,
 * object-policy), on a copy of the statement with the role as it is now. A refusal says that the rules
 * changed while the call waited, and that nothing was sent. When the rules did not change for this session's
 * role in what this statement needs, it goes on as admitted.
 *
 * A statement admitted again runs under the role as it is now, and so does the rest of its call: the later
 * stages (scan-limit, quota-charge), the row cap and statement timeout the call took as it began, and the
 * quota its usage is settled under.
 */
import { SnowmuxError, isSnowmuxError } from '../../../errors.js';
import { enforceTool } from '../../policy/enforce.js';
import type { EffectiveRole } from '../../policy/policy.js';
import { policyDenied } from '../../policy/policy.js';
import { runStages } from '../stage.js';
import type { OperationResult, RoleCaps, Statement, StatementStage } from '../statement.js';
import { callContext } from './call-context.js';
import { objectPolicy } from './object-policy.js';
import { sqlPolicy } from './sql-policy.js';

/** The stages that judge a statement by its role before it waits for a slot. */
const JUDGING_STAGES = [sqlPolicy, callContext, objectPolicy] as const;

export const rulesCurrent: StatementStage = {
  name: 'rules-current',
  async run(st, next) {
    const rules = st.scope.rules;
    const generation = st.scope.governance.policyGeneration;
    if (rules === undefined || rules.generation === generation) return next();
    const now = rules.current();
    try {
      enforceTool(now, rules.tool);
      await judgeAgain(st, now);
    } catch (err) {
      throw changedWhileWaiting(err, now);
    }
    // Admitted under the role as it is now: the rest of the call runs under it too (the stages after this one,
    // the quota it is charged and settled under, its row cap and statement timeout), not under the old one.
    st.scope = { ...st.scope, role: now };
    const caps = rules.adopt?.(now, generation);
    if (caps) underCaps(st, caps);
    return next();
  },
};

/**
 * The statement's row cap and statement timeout as `caps` (the role as it is now) sets them: the tool took them
 * from the old role before the statement waited, and row-cap pushed that cap into the SQL.
 */
function underCaps(st: Statement, caps: RoleCaps): void {
  const timeout = { timeoutMs: caps.timeoutMs, timeoutSetting: caps.timeoutSetting };
  const op = st.op;
  if (op.kind === 'query') st.op = { ...op, options: { ...op.options, ...timeout, maxRows: Math.min(op.options.maxRows, caps.maxRows) } };
  else if (op.kind === 'explain') st.op = { ...op, options: { ...op.options, ...timeout } };
  else if (op.kind === 'fetch') st.op = { ...op, page: { ...op.page, limit: Math.min(op.page.limit, caps.maxRows) }, ctx: { ...op.ctx, ...timeout } };
  else if (op.kind === 'search') st.op = { ...op, request: { ...op.request, limit: Math.min(op.request.limit, caps.maxRows) }, ctx: { ...op.ctx, ...timeout } };
  else st.op = { ...op, ctx: { ...op.ctx, ...timeout } };
  const pushed = st.appendedLimit;
  if (st.op.kind !== 'query' || pushed === undefined || st.text === undefined) return;
  const shown = st.op.options.maxRows;
  const suffix = `\nLIMIT ${pushed}`;
  if (shown + 1 >= pushed || !st.text.endsWith(suffix)) return;
  st.text = `${st.text.slice(0, -suffix.length)}\nLIMIT ${shown + 1}`;
  st.appendedLimit = shown + 1;
}

/** Runs the judging stages on a copy of `st` under `role`; nothing past them runs (their `next` answers nothing). */
async function judgeAgain(st: Statement, role: EffectiveRole): Promise<void> {
  const copy: Statement = { op: st.op, scope: { ...st.scope, role, rules: undefined } };
  await runStages(JUDGING_STAGES, copy, async () => nothingRun(st));
  // Names whose object only the catalog can tell (name-resolution) were looked up before the queue for the
  // role as it was; new ones are not looked up while this statement holds its slot (the look-up waits for one).
  const resolved = new Set((st.namesToResolve ?? []).map((n) => JSON.stringify(n.ref)));
  const unresolved = (copy.namesToResolve ?? []).filter((n) => !resolved.has(JSON.stringify(n.ref)));
  if (unresolved.length > 0) {
    throw policyDenied(
      `Query not run: role "${role.name}" now needs the hub to look up ${unresolved.map((n) => Object.values(n.ref).join('.')).join(', ')} in the catalog before the statement may run (rule: ${unresolved[0]!.rule}). Call again: the call is then judged from the start under the current rules.`,
      { rule: unresolved[0]!.rule, role: role.name },
    );
  }
}

/** What the judging stages' `next` answers for a statement judged only: an empty listing (filtered to nothing). */
function nothingRun(st: Statement): OperationResult {
  const kind = st.op.kind;
  return (kind === 'databases' || kind === 'schemas' || kind === 'objects' ? [] : {}) as OperationResult;
}

function changedWhileWaiting(err: unknown, role: EffectiveRole): unknown {
  if (!isSnowmuxError(err)) return err;
  const note = ` The hub's configuration was reloaded while this call waited for a slot, and the call was judged again under role "${role.name}" as it is now: nothing was sent to the warehouse.`;
  const said = (text: string) => `${text.replace(/\s+$/, '')}${note}`;
  return new SnowmuxError(err.code, said(err.message), {
    details: { ...err.details, rulesChanged: true },
    cause: err,
    callerMessage: err.callerMessage === undefined ? undefined : said(err.callerMessage),
  });
}
