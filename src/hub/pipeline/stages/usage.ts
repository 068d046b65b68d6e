/**
 * Call stage: what the call used (queries, rows, bytes) counts against the identity's quota — locally,
 * and team-wide when there is a team (awaited, so the caller's next call on any replica sees it). Acts
 * on the way back, for failed calls too (rows already read were paid for).
 */
import type { CallStage } from '../call-state.js';

export const usage: CallStage = {
  name: 'usage',
  async run(call, next) {
    let ok = false;
    try {
      const result = await next();
      ok = result.isError !== true;
      return result;
    } finally {
      await call.env.governance.settle(call.identity, call.meter, call.sql !== null && ok);
    }
  },
};
