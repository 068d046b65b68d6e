/**
 * Call stage: refuses a call whose identity has spent its quota under the call's role for a window
 * (team-wide usage when shared).
 */
import { SnowmuxError } from '../../../errors.js';
import type { CallStage } from '../call-state.js';

export const quota: CallStage = {
  name: 'quota',
  async run(call, next) {
    if (!call.role) throw new SnowmuxError('INTERNAL_ERROR', 'The quota stage ran before tool-policy resolved the role.');
    const refusal = await call.env.governance.quotaRefusal(call.identity, call.role, call.meter);
    if (refusal) throw refusal;
    return next();
  },
};
