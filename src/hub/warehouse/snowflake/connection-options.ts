/**
 * A resolved SnowflakeProfile → snowflake-sdk connection options. The authentication mapping lives here:
 * password, MFA (USERNAME_PASSWORD_MFA with MFA-token caching), key pair (SNOWFLAKE_JWT, the key
 * decrypted once with node:crypto so a wrong passphrase fails with the setting's name before any login),
 * OAuth, programmatic access token, and external browser SSO (with SSO-token caching, so the browser
 * opens once per hub rather than once per pooled connection or editor).
 */
import { createPrivateKey } from 'node:crypto';
import { SnowmuxError } from '../../../errors.js';
import type { SnowflakeProfile } from '../../config/profile-types.js';
import { NO_BROWSER_MARK, settingLabel } from './snowflake-errors.js';
import type { SfConnectionOptions } from './sdk-types.js';

export interface BuiltConnectionOptions {
  options: SfConnectionOptions;
  /** Logins that may need a person (browser, MFA push): create connections one at a time until one succeeds. */
  interactive: boolean;
  /** Secret-free name of the method for status output. */
  method: string;
}

/**
 * Why no browser can be opened for a sign-in on this machine, or null when one may be. On Linux and the
 * BSDs a browser needs a desktop session (DISPLAY or WAYLAND_DISPLAY) unless $BROWSER names one; WSL opens
 * the Windows browser. macOS and Windows are taken to have one.
 */
export function noBrowserReason(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string | null {
  if (platform === 'darwin' || platform === 'win32') return null;
  if (env.DISPLAY || env.WAYLAND_DISPLAY || env.BROWSER || env.WSL_DISTRO_NAME) return null;
  return 'the hub runs without a desktop session (neither DISPLAY nor WAYLAND_DISPLAY is set in its environment: a server, an SSH login, a service)';
}

/** The profile's own address of Snowflake, when it sets one (else the driver derives it from the account). */
export function accessUrlOf(profile: SnowflakeProfile): string | undefined {
  if (profile.accessUrl !== undefined) return profile.accessUrl;
  if (profile.host !== undefined) return profile.host.includes('://') ? profile.host : `https://${profile.host}`;
  return undefined;
}

export function buildConnectionOptions(profile: SnowflakeProfile, overrides: Partial<SfConnectionOptions> = {}): BuiltConnectionOptions {
  const options: SfConnectionOptions = {
    account: profile.account,
    username: profile.user,
    application: 'snowmux',
    // A failed login is retried by the hub's own logic (and breaker), not for two minutes inside the driver.
    sfRetryMaxLoginRetries: 2,
    // The hub keeps its pool warm itself; the driver's keep-alive timer would keep a closed hub running.
    clientSessionKeepAlive: false,
  };
  const accessUrl = accessUrlOf(profile);
  if (accessUrl !== undefined) options.accessUrl = accessUrl;
  if (profile.role !== undefined) options.role = profile.role;
  if (profile.warehouse !== undefined) options.warehouse = profile.warehouse;
  if (profile.database !== undefined) options.database = profile.database;
  if (profile.schema !== undefined) options.schema = profile.schema;

  let interactive = false;
  const auth = profile.auth;
  switch (auth.method) {
    case 'password':
      options.password = auth.password;
      if (auth.mfa !== undefined) {
        interactive = true;
        options.authenticator = 'USERNAME_PASSWORD_MFA';
        options.clientRequestMFAToken = true;
        // The driver only installs its token store (~/.cache/snowflake) when this is set; MFA caching needs it.
        options.clientStoreTemporaryCredential = true;
        if (auth.mfa.passcode !== undefined) options.passcode = auth.mfa.passcode;
        if (auth.mfa.passcodeInPassword === true) options.passcodeInPassword = true;
      } else {
        options.authenticator = 'SNOWFLAKE';
      }
      break;
    case 'mfa':
      interactive = true;
      options.authenticator = 'USERNAME_PASSWORD_MFA';
      options.password = auth.password;
      options.clientRequestMFAToken = true;
      options.clientStoreTemporaryCredential = true;
      if (auth.passcode !== undefined) options.passcode = auth.passcode;
      break;
    case 'keypair':
      options.authenticator = 'SNOWFLAKE_JWT';
      options.privateKey = decryptPrivateKey(profile, auth.privateKeyPem, auth.passphrase, auth.source);
      break;
    case 'oauth':
      options.authenticator = 'OAUTH';
      options.token = auth.token;
      break;
    case 'pat':
      options.authenticator = 'PROGRAMMATIC_ACCESS_TOKEN';
      options.token = auth.token;
      break;
    case 'externalbrowser': {
      interactive = true;
      options.authenticator = 'EXTERNALBROWSER';
      options.clientStoreTemporaryCredential = true;
      // Without a desktop the driver's attempt to open a browser fails where nobody sees it, and the login
      // waited the driver's two minutes for a sign-in nobody was shown. It fails at once instead, saying why.
      const why = noBrowserReason();
      if (why !== null) {
        options.openExternalBrowserCallback = () => {
          throw new Error(`${NO_BROWSER_MARK} ${why}`);
        };
      }
      break;
    }
  }
  return { options: { ...options, ...overrides }, interactive, method: auth.method };
}

/**
 * The key as unencrypted PKCS#8 PEM (what snowflake-sdk signs JWTs with). Decrypting here, once, means the
 * passphrase never reaches the driver and a wrong one is reported with the settings to check.
 */
export function decryptPrivateKey(profile: SnowflakeProfile, pem: string, passphrase: string | undefined, source: string): string {
  try {
    const key = createPrivateKey(passphrase === undefined ? { key: pem, format: 'pem' } : { key: pem, format: 'pem', passphrase });
    if (key.asymmetricKeyType !== 'rsa') {
      throw new SnowmuxError(
        'AUTH_FAILED',
        `Profile "${profile.name}": the private key (${source}) is a ${key.asymmetricKeyType ?? 'non-RSA'} key; Snowflake key-pair login needs an RSA key.`,
        { details: { infrastructure: true, transient: false, setting: 'privateKey' } },
      );
    }
    return key.export({ format: 'pem', type: 'pkcs8' }).toString();
  } catch (err) {
    if (err instanceof SnowmuxError) throw err;
    const encrypted = /ENCRYPTED/.test(pem);
    const why =
      encrypted && passphrase === undefined
        ? `it is encrypted and no passphrase is set. Set ${settingLabel(profile, 'privateKeyPassphrase').replace(/ \(set by .*\)$/, '')} (e.g. SNOWFLAKE_PRIVATE_KEY_PASSPHRASE)`
        : encrypted
          ? `the passphrase ${settingLabel(profile, 'privateKeyPassphrase')} does not decrypt it`
          : 'it is not a readable PEM private key';
    throw new SnowmuxError('AUTH_FAILED', `Profile "${profile.name}": cannot use the private key (${source}): ${why}.`, {
      details: { infrastructure: true, transient: false, setting: encrypted ? 'privateKeyPassphrase' : 'privateKey' },
    });
  }
}
