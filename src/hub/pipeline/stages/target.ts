/**
 * Call stage: where the call will run — the role's profile, else the session's own settings — resolved
 * without opening a pool or logging in (open-warehouse does that, per statement, after the SQL rules).
 * A profile that cannot resolve is reported here, as a config error naming the fix.
 */
import { SnowmuxError } from '../../../errors.js';
import type { CallStage } from '../call-state.js';

export const target: CallStage = {
  name: 'target',
  run(call, next) {
    if (!call.role) throw new SnowmuxError('INTERNAL_ERROR', 'The target stage ran before tool-policy resolved the role.');
    const t = call.env.warehouses.targetFor(call.session, call.role);
    call.target = t;
    call.meter.profile = t.name;
    return next();
  },
};
