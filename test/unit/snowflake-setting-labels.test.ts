/** Messages name Snowflake profile settings as a user writes them, never by the profile's internal field names. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_POOL, KNOWN_KEYS } from '../../src/hub/config/config-schema.js';
import { SETTING_NAMES, SOURCE_KEYS } from '../../src/hub/config/profile-settings.js';
import type { SnowflakeProfile } from '../../src/hub/config/profile-types.js';
import { settingLabel } from '../../src/hub/warehouse/snowflake/snowflake-errors.js';

function profile(): SnowflakeProfile {
  return {
    name: 'pw',
    account: 'acct',
    user: 'alice',
    auth: { method: 'password', password: 'pw' },
    statementTimeoutMs: 30_000,
    sources: {},
    pool: { ...DEFAULT_POOL },
  };
}

test('messages name each setting as a user writes it in a profile, never its internal field name', () => {
  const p = profile();
  for (const setting of SETTING_NAMES) {
    const key = SOURCE_KEYS[setting];
    const shown = settingLabel({ ...p, sources: {} }, key);
    const [table, name] = shown.startsWith('pool.') ? ['pool', shown.slice('pool.'.length)] : ['profile', shown];
    assert.ok(KNOWN_KEYS[table]!.includes(name!), `${setting} is shown as "${shown}", which [profiles.<name>${table === 'pool' ? '.pool' : ''}] does not accept`);
  }
  assert.equal(settingLabel({ ...p, sources: { 'pool.acquireTimeoutMs': '/etc/snowmux.toml profiles.pw' } }, 'pool.acquireTimeoutMs'), 'pool.acquire_timeout_ms (set by /etc/snowmux.toml profiles.pw)');
});
