// PLACEHOLDER (lead): replaced by the policy work in progress.
import type { EffectiveRole, ObjectRef } from './policy.js';
import { policyDenied } from './policy.js';
export function enforceTool(role: EffectiveRole, tool: string): void {
  if (!role.toolAllowed(tool)) throw policyDenied(`Tool "${tool}" is not allowed for role "${role.name}" (rule: tools).`);
}
export function enforceObject(role: EffectiveRole, ref: ObjectRef, what: string): void {
  if (!role.canSee(ref)) throw policyDenied(`Access denied: role "${role.name}" may not use ${what} ${[ref.database, ref.schema, ref.name].filter(Boolean).join('.')}.`);
}
export function enforceSqlObjects(_role: EffectiveRole, _sql: string, _context: { database: string; schema: string }): void {}
