/** Call stage: one token from the identity's bucket (team-wide through Redis when there is a team). */
import { SnowmuxError } from '../../../errors.js';
import { rateLimitedError } from '../../guard/rate-limit.js';
import type { CallStage } from '../call-state.js';

export const rateLimit: CallStage = {
  name: 'rate-limit',
  async run(call, next) {
    if (!call.role) throw new SnowmuxError('INTERNAL_ERROR', 'The rate-limit stage ran before tool-policy resolved the role.');
    const limit = call.env.governance.rateOf(call.role);
    const take = await call.env.governance.takeToken(call.identity, limit);
    if (!take.ok) throw rateLimitedError(call.identity, limit, take.retryAfterMs);
    return next();
  },
};
