/**
 * Credentials changed on disk reach the sessions already running: a token file another process refreshes
 * and a rotated key file are what the next login of a running session sends (against the Snowflake double,
 * through the real snowflake-sdk).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/hub/observe/logger.js';
import { Session } from '../../src/hub/session/session.js';
import { WarehouseRegistry } from '../../src/hub/warehouse/warehouse-registry.js';
import { makeRsaKeyPair, startSnowflakeDouble, type DoubleUser, type SnowflakeDouble } from '../doubles/snowflake/index.js';
import { queryOptions } from '../doubles/snowflake/fixtures.js';

const firstKey = makeRsaKeyPair();
const secondKey = makeRsaKeyPair();
const oauthUser: DoubleUser = { name: 'oauth_user', oauthTokens: ['oauth-tok-1'], roles: ['ANALYST'] };
const keyUser: DoubleUser = { name: 'kp_user', publicKeyPem: firstKey.publicKeyPem, roles: ['ANALYST'] };

let double: SnowflakeDouble;
let dir: string;
let registry: WarehouseRegistry;

/** Replaced by rename, as token refreshers and key rotation tools write (never half a file). */
function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(`${path}.new`, text, { mode: 0o600 });
  renameSync(`${path}.new`, path);
  return path;
}

const editor = (id: string, profile: string) => new Session({ id, identity: { kind: 'local-user', name: 'me' }, transport: 'unix-socket', profile });

async function currentUser(session: Session): Promise<unknown> {
  const warehouse = await registry.forSession(session);
  return (await warehouse.query('select current_user() as u', queryOptions())).rows[0]?.[0];
}

before(async () => {
  double = await startSnowflakeDouble({ users: [oauthUser, keyUser] });
  dir = mkdtempSync(join(tmpdir(), 'snowmux-sf-creds-'));
  mkdirSync(join(dir, '.snowflake'), { mode: 0o700 });
  mkdirSync(join(dir, 'home'), { mode: 0o700 });
  const tokenFile = write('oauth.tok', 'oauth-tok-1\n');
  const keyFile = write('rsa_key.p8', firstKey.privateKeyPem);
  const server = `account = ${JSON.stringify(double.account.toLowerCase())}\naccess_url = ${JSON.stringify(double.url)}\nrole = "ANALYST"\n`;
  write(
    '.snowflake/connections.toml',
    `[oauth]\n${server}user = "oauth_user"\nauthenticator = "oauth"\ntoken_file_path = ${JSON.stringify(tokenFile)}\n\n` +
      `[kp]\n${server}user = "kp_user"\nprivate_key_file = ${JSON.stringify(keyFile)}\n`,
  );
  const logger = createLogger({ destination: new PassThrough(), level: 'silent' });
  registry = new WarehouseRegistry({ home: join(dir, 'home'), logger, env: { HOME: dir }, homedir: dir, credentialsCheckMs: 0 });
});

after(async () => {
  await registry.close();
  await double.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('credentials changed on disk under a running hub', () => {
  it('a refreshed OAuth token file is what the next login of a running session sends', async () => {
    const session = editor('e1', 'oauth');
    assert.equal(await currentUser(session), 'OAUTH_USER');
    // The token is refreshed: Snowflake takes only the new one, the file holds it, the sessions are gone.
    oauthUser.oauthTokens = ['oauth-tok-2'];
    write('oauth.tok', 'oauth-tok-2\n');
    double.expireMasterTokens();
    assert.equal(await currentUser(session), 'OAUTH_USER');
    assert.equal(double.loginLog.at(-1)?.user, 'OAUTH_USER');
    assert.equal(double.loginLog.at(-1)?.ok, true);
  });

  it('a rotated key file is what the next login of a running session signs with', async () => {
    const session = editor('e2', 'kp');
    assert.equal(await currentUser(session), 'KP_USER');
    keyUser.publicKeyPem = secondKey.publicKeyPem;
    write('rsa_key.p8', secondKey.privateKeyPem);
    double.expireMasterTokens();
    assert.equal(await currentUser(session), 'KP_USER');
  });
});
