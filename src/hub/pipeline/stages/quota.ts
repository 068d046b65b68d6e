/**
 * Call stage: refuses a call whose identity has already spent its quota under the call's role for a window
 * (team-wide usage when shared), before any login. It charges nothing: the quota-charge statement stage
 * does, once the call has passed every rule.
 */
import { SnowmuxError } from '../../../errors.js';
import type { CallStage } from '../call-state.js';

export const quota: CallStage = {
  name: 'quota',
  async run(call, next) {
    if (!call.role) throw new SnowmuxError('INTERNAL_ERROR', 'The quota stage ran before tool-policy resolved the role.');
    const refusal = await call.env.governance.quotaRefusal(call.identity, call.role);
    if (refusal) throw refusal;
    return next();
  },
};
