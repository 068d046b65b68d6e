/**
 * Call stage: one token from the session's fair share of its identity's rate under the call's role (when
 * several open editors share it), then from that bucket (team-wide through Redis when there is a team).
 */
import { SnowmuxError } from '../../../errors.js';
import { describeRate, describeWait, rateLimitedError } from '../../guard/rate-limit.js';
import type { CallStage } from '../call-state.js';

export const rateLimit: CallStage = {
  name: 'rate-limit',
  async run(call, next) {
    if (!call.role) throw new SnowmuxError('INTERNAL_ERROR', 'The rate-limit stage ran before tool-policy resolved the role.');
    const limit = call.env.governance.rateOf(call.role);
    const take = await call.env.governance.takeToken(call.identity, call.role, call.session);
    // Which rule: the role's own rate, else the hub's default for every role without one.
    const rule = call.role.rate !== undefined ? `[roles.${call.role.name}.rate]` : '[limits.rate]';
    if (!take.ok && take.share) {
      throw new SnowmuxError(
        'RATE_LIMITED',
        `Rate limit reached for this editor: the rate of "${call.identity}" (role "${call.role.name}", ${rule}) is shared by ${take.sessions} open editors, and each gets a fair share ` +
          `(bursts of ${take.share.capacity}, then ${describeRate(take.share.refillPerSecond)}). Retry after ~${describeWait(take.retryAfterMs)}.`,
        { details: { rule: 'rate (fair share)', retryAfterMs: take.retryAfterMs, sessions: take.sessions, role: call.role.name } },
      );
    }
    if (!take.ok) throw rateLimitedError(call.identity, limit, take.retryAfterMs, { role: call.role.name, sessions: take.sessions, rule });
    return next();
  },
};
