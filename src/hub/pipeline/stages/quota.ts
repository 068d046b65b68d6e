/**
 * Call stage: refuses a call whose identity has already spent its quota under the call's role for a window
 * (team-wide usage when shared), before any login. A spent `rows` or `bytes` budget refuses every call (each
 * answer spends them); a spent `queries` or `scan_bytes` budget only the statements it counts, those that
 * carry SQL: the quota-spent statement stage refuses them, before any login, and a listing or a page of an
 * earlier result, which spend neither, are served. It charges nothing: the quota-charge statement stage
 * does, once the call has passed every rule.
 */
import { SnowmuxError } from '../../../errors.js';
import type { CallStage } from '../call-state.js';

export const quota: CallStage = {
  name: 'quota',
  async run(call, next) {
    if (!call.role) throw new SnowmuxError('INTERNAL_ERROR', 'The quota stage ran before tool-policy resolved the role.');
    const refusal = await call.env.governance.quotaRefusal(call.identity, call.role);
    if (refusal.call) throw refusal.call;
    call.meter.queryQuotaSpent = refusal.query;
    return next();
  },
};
