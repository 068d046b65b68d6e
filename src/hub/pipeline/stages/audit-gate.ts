/**
 * Call stage, right inside `audit`: while the audit log cannot write records and `[audit] on_failure` is
 * "refuse" (the default), a new call is refused with AUDIT_UNAVAILABLE before any rule or warehouse sees it.
 * The refusal is itself recorded by the audit stage: that record is the log's next try, so the first one
 * written after space comes back ends the refusals (the log also retries by itself every few seconds).
 */
import type { CallStage } from '../call-state.js';

export const auditGate: CallStage = {
  name: 'audit-gate',
  run(call, next) {
    const trouble = call.env.sink.unavailable?.();
    if (trouble?.refuse) throw trouble.error;
    return next();
  },
};
