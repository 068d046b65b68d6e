/**
 * Profile settings as command-line flags (`--account`, `--warehouse`, `--pool-max` …), for `snowmux hub`
 * and `snowmux stdio`. Secrets are not accepted as flags: command lines are visible to every local user
 * (`ps`); put them in the environment, config.toml or connections.toml.
 */
import type { ParseArgsConfig } from 'node:util';
import { SnowmuxError } from '../errors.js';
import { ENV_VARIABLES } from '../hub/config/env-profile.js';
import { FLAG_NAMES, SECRET_SETTINGS, type ProfileSettings, type SettingName } from '../hub/config/profile-settings.js';

const NUMERIC: ReadonlySet<SettingName> = new Set(['statementTimeoutMs', 'poolMin', 'poolMax', 'poolAcquireTimeoutMs', 'poolIdleTimeoutMs', 'poolMaxConnectionAgeMs']);
const BOOLEAN: ReadonlySet<SettingName> = new Set(['poolValidateOnBorrow']);

const entries = (Object.entries(FLAG_NAMES) as [SettingName, string][]).filter(([name]) => !SECRET_SETTINGS.has(name));

/** `--no-pool-validate` for `--pool-validate`: a profile's `validate = true` can be turned off for one run too. */
const negated = (flag: string) => `--no-${flag.slice(2)}`;

export const PROFILE_FLAG_OPTIONS: NonNullable<ParseArgsConfig['options']> = Object.fromEntries(
  entries.flatMap(([name, flag]): [string, { type: 'boolean' | 'string' }][] =>
    BOOLEAN.has(name) ? [[flag.slice(2), { type: 'boolean' }], [negated(flag).slice(2), { type: 'boolean' }]] : [[flag.slice(2), { type: 'string' }]],
  ),
);

export const PROFILE_FLAGS_HELP = `Snowflake profile (highest precedence; secrets only via env/config files):
  --profile NAME  ${entries.map(([name, f]) => (BOOLEAN.has(name) ? `${f} ${negated(f)}` : f)).join(' ')}`;

export function profileFlagsFrom(values: Record<string, unknown>): Partial<ProfileSettings> {
  const out: Partial<Record<SettingName, unknown>> = {};
  for (const [name, flag] of entries) {
    if (BOOLEAN.has(name) && values[negated(flag).slice(2)] === true) {
      if (values[flag.slice(2)] === true) throw new SnowmuxError('USAGE', `${flag} and ${negated(flag)} contradict each other: give one of them.`);
      out[name] = false;
      continue;
    }
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

/** Where a secret goes instead of a flag, per secret setting: its variable and its config key. */
const SECRET_HOMES: Partial<Record<SettingName, string>> = {
  password: 'password',
  passcode: 'passcode',
  privateKey: 'private_key (or a key file: --private-key-path)',
  privateKeyPassphrase: 'private_key_passphrase',
  token: 'token (or a token file: --token-file-path)',
};

/**
 * A secret given as a flag (`--password …`) is refused with where it goes instead — not as an unknown
 * option, which reads like a typo: the flag names exist (they label settings in messages), on purpose
 * not on a command line.
 */
export function refuseSecretFlags(argv: readonly string[]): void {
  for (const arg of argv) {
    if (arg === '--') return;
    const name = arg.split('=')[0]!;
    const setting = (Object.keys(FLAG_NAMES) as SettingName[]).find((s) => FLAG_NAMES[s] === name && SECRET_SETTINGS.has(s));
    if (setting === undefined) continue;
    const variable = ENV_VARIABLES.find(([s]) => s === setting)?.[1][0];
    throw new SnowmuxError(
      'USAGE',
      `${name} is not taken on a command line: it would be visible to every local user (ps). Set ${variable} in the environment, ` +
        `or ${SECRET_HOMES[setting]} in config.toml [profiles.<name>] or in ~/.snowflake/connections.toml.`,
    );
  }
}
