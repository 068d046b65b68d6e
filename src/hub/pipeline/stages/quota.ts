/** Call stage: refuses a call whose identity has spent its quota for a window (team-wide usage when shared). */
import type { CallStage } from '../call-state.js';

export const quota: CallStage = {
  name: 'quota',
  async run(call, next) {
    const refusal = await call.env.governance.quotaRefusal(call.identity, call.meter);
    if (refusal) throw refusal;
    return next();
  },
};
