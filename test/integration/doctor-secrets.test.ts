/**
 * `snowmux doctor` quotes what others said (the Snowflake driver's refusal, a profile that does not
 * resolve, the running hub): none of it may print a secret the settings hold, in text or --json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSnowflakeDouble } from '../doubles/snowflake/index.js';
import { defer, runCli, tempHome } from '../helpers/harness.js';

const PASSWORD = 'doctor-pw-Quoted-By-Driver';
const TOKEN = 'doctor-token-Quoted-By-Driver';
const PASSPHRASE = 'doctor-passphrase-Quoted';

interface Check { check: string; status: string; detail: string; fix?: string }

test("doctor --login prints no secret of the settings a driver's or a resolver's error quotes (password, token, passphrase), in text or JSON", async (t) => {
  const d = await startSnowflakeDouble({ users: [{ name: 'ALICE', password: PASSWORD, roles: ['PUBLIC'] }] });
  defer(t, () => d.close());
  // Snowflake's (or a proxy's) answer to the login quotes what it was sent.
  d.inject({ kind: 'error', endpoint: 'login', code: '390999', message: `Login request rejected: PASSWORD=${PASSWORD} TOKEN=${TOKEN} is not accepted here` });
  const home = tempHome(t);
  const sfHome = join(home, 'sf');
  mkdirSync(sfHome, { mode: 0o700 });
  const url = new URL(d.url);
  const at = `host = "${url.hostname}"\nport = ${url.port}\nprotocol = "http"\n`;
  writeFileSync(
    join(sfHome, 'connections.toml'),
    `[work]\naccount = "${d.account}"\nuser = "alice"\npassword = "${PASSWORD}"\n${at}\n` +
      `[tok]\naccount = "${d.account}"\nuser = "alice"\nauthenticator = "oauth"\ntoken = "${TOKEN}"\n${at}\n` +
      // A key file that is not there, with its passphrase: the profile does not resolve.
      `[keyed]\naccount = "${d.account}"\nuser = "alice"\nprivate_key_file = "${join(home, 'absent.p8')}"\nprivate_key_file_pwd = "${PASSPHRASE}"\n${at}`,
    { mode: 0o600 },
  );
  const env = { SNOWFLAKE_HOME: sfHome };
  const json = await runCli(['doctor', '--json', '--login', '--home', home], env);
  const text = await runCli(['doctor', '--login', '--home', home], env);
  const checks = JSON.parse(json.stdout) as Check[];
  const login = checks.find((c) => c.check === 'login work');
  assert.equal(login?.status, 'fail', json.stdout);
  // The refusal is still shown (what Snowflake said, and the fix), only the secrets are out of it.
  assert.match(login.detail, /Login request rejected: PASSWORD=\S+ TOKEN=\S+ is not accepted here/);
  for (const secret of [PASSWORD, TOKEN, PASSPHRASE]) {
    for (const [name, out] of [['json', json.stdout], ['text', text.stdout], ['stderr', text.stderr + json.stderr]] as const) {
      assert.equal(out.includes(secret), false, `${secret} in doctor's ${name}:\n${out}`);
    }
  }
});
