// PLACEHOLDER (lead): replaced by the policy work in progress. Default role: read-only, all tools, all objects.
import { SnowmuxError } from '../../errors.js';
import type { HubConfig } from '../config/config-schema.js';
import type { SqlPolicy } from '../guard/sql/classifier.js';
import type { ClientInfo, Identity } from '../session/session.js';

export interface ObjectRef { database: string; schema?: string; name?: string }
export interface EffectiveRole {
  name: string;
  write: boolean;
  stageListing: boolean;
  profile?: string | undefined;
  snowflakeRole?: string | undefined;
  warehouse?: string | undefined;
  maxRows?: number | undefined;
  rate?: { perSecond: number; burst: number } | undefined;
  quota?: { windowMs: number; queries?: number; rows?: number; bytes?: number } | undefined;
  toolAllowed(tool: string): boolean;
  canSee(ref: ObjectRef): boolean;
  sqlPolicy(): SqlPolicy;
}
const DEFAULT_ROLE: EffectiveRole = {
  name: 'default', write: false, stageListing: false,
  toolAllowed: () => true, canSee: () => true, sqlPolicy: () => ({ allowWrite: false }),
};
export class Policy {
  static fromConfig(_config: HubConfig, _file?: string): Policy { return new Policy(); }
  roleFor(_identity: Identity, _client: ClientInfo | null): EffectiveRole { return DEFAULT_ROLE; }
  describe(): { roles: string[]; defaultRole: string } { return { roles: [], defaultRole: 'default' }; }
}
export function policyDenied(message: string): SnowmuxError { return new SnowmuxError('POLICY_DENIED', message); }
