/**
 * Profile settings as command-line flags (`--account`, `--warehouse`, `--pool-max` …), for `snowmux hub`
 * and `snowmux stdio`. Secrets are not accepted as flags: command lines are visible to every local user
 * (`ps`); put them in the environment, config.toml or connections.toml.
 */
import type { ParseArgsConfig } from 'node:util';
import { SnowmuxError } from '../errors.js';
import { FLAG_NAMES, SECRET_SETTINGS, type ProfileSettings, type SettingName } from '../hub/config/profile-settings.js';

const NUMERIC: ReadonlySet<SettingName> = new Set(['statementTimeoutMs', 'poolMin', 'poolMax', 'poolAcquireTimeoutMs', 'poolIdleTimeoutMs', 'poolMaxConnectionAgeMs']);
const BOOLEAN: ReadonlySet<SettingName> = new Set(['poolValidateOnBorrow']);

const entries = (Object.entries(FLAG_NAMES) as [SettingName, string][]).filter(([name]) => !SECRET_SETTINGS.has(name));

export const PROFILE_FLAG_OPTIONS: NonNullable<ParseArgsConfig['options']> = Object.fromEntries(
  entries.map(([name, flag]) => [flag.slice(2), { type: BOOLEAN.has(name) ? 'boolean' : 'string' } as const]),
);

export const PROFILE_FLAGS_HELP = `Snowflake profile (highest precedence; secrets only via env/config files):
  --profile NAME  ${entries.map(([, f]) => f).join(' ')}`;

export function profileFlagsFrom(values: Record<string, unknown>): Partial<ProfileSettings> {
  const out: Partial<Record<SettingName, unknown>> = {};
  for (const [name, flag] of entries) {
    const raw = values[flag.slice(2)];
    if (raw === undefined) continue;
    if (NUMERIC.has(name)) {
      const n = Number(raw);
      if (!Number.isFinite(n) || n < 0) throw new SnowmuxError('USAGE', `${flag} needs a number of 0 or more, got ${JSON.stringify(raw)}.`);
      out[name] = n;
    } else out[name] = raw;
  }
  return out as Partial<ProfileSettings>;
}
