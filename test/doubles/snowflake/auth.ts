/**
 * Login checks of the double, one per authenticator snowflake-sdk 3.3.0 sends:
 * SNOWFLAKE (password), USERNAME_PASSWORD_MFA, SNOWFLAKE_JWT (key pair), OAUTH, PROGRAMMATIC_ACCESS_TOKEN,
 * and ID_TOKEN (a cached SSO token issued earlier by this double).
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { SfError } from './sql-engine.js';

export interface DoubleUser {
  name: string;
  password?: string;
  /** PEM public key (SPKI) registered for key-pair login. */
  publicKeyPem?: string;
  oauthTokens?: string[];
  /** Programmatic access tokens. */
  pats?: string[];
  /** When set, USERNAME_PASSWORD_MFA needs this passcode (or a cached MFA token). */
  mfaPasscode?: string;
  /** Roles the user may use; the first is the default. Defaults to ['PUBLIC']. */
  roles?: string[];
  defaultWarehouse?: string;
  defaultDatabase?: string;
  defaultSchema?: string;
  /**
   * Parameters set for the user (ALTER USER … SET): a session starts with them, SHOW PARAMETERS IN SESSION
   * shows them (upper-case names, e.g. QUOTED_IDENTIFIERS_IGNORE_CASE = 'true', SEARCH_PATH).
   */
  parameters?: Record<string, string>;
  /**
   * A user Snowflake refuses whatever the credentials: its password expired, an administrator disabled it,
   * or failed logins locked it. The messages are Snowflake's wording; the codes are not documented (the hub
   * reads the message).
   */
  state?: 'password_expired' | 'disabled' | 'locked';
}

export interface LoginData {
  ACCOUNT_NAME?: string;
  LOGIN_NAME?: string;
  AUTHENTICATOR?: string;
  PASSWORD?: string;
  TOKEN?: string;
  PASSCODE?: string;
  EXT_AUTHN_DUO_METHOD?: string;
  SESSION_PARAMETERS?: Record<string, unknown>;
}

export interface IssuedTokens {
  mfaTokens: Set<string>;
  idTokens: Set<string>;
}

const BAD_LOGIN = (): SfError => new SfError('390100', '08004', 'Incorrect username or password was specified.');

export function authenticate(users: Map<string, DoubleUser>, account: string, data: LoginData, issued: IssuedTokens): DoubleUser {
  if ((data.ACCOUNT_NAME ?? '').toUpperCase() !== account.toUpperCase()) {
    throw new SfError('390201', '08004', `The requested account '${data.ACCOUNT_NAME ?? ''}' does not exist.`);
  }
  const user = users.get((data.LOGIN_NAME ?? '').toUpperCase());
  const authenticator = (data.AUTHENTICATOR ?? 'SNOWFLAKE').toUpperCase();
  if (user === undefined) throw BAD_LOGIN();
  if (user.state === 'disabled') throw new SfError('390101', '08004', 'User access disabled. Contact your local system administrator.');
  if (user.state === 'locked') throw new SfError('390102', '08004', 'User temporarily locked. Contact your local system administrator or please try again later.');
  if (user.state === 'password_expired' && (authenticator === 'SNOWFLAKE' || authenticator === 'USERNAME_PASSWORD_MFA') && data.PASSWORD === user.password) {
    throw new SfError('390106', '08004', 'Specified password has expired.  Password must be changed using the Snowflake web console.');
  }
  switch (authenticator) {
    case 'SNOWFLAKE':
      if (user.password === undefined || data.PASSWORD !== user.password) throw BAD_LOGIN();
      if (user.mfaPasscode !== undefined) {
        throw new SfError('394508', '08004', 'Multi-factor authentication is required for this user. Use USERNAME_PASSWORD_MFA.');
      }
      return user;
    case 'USERNAME_PASSWORD_MFA':
      if (user.password === undefined || data.PASSWORD !== user.password) throw BAD_LOGIN();
      if (user.mfaPasscode !== undefined) {
        const cached = data.TOKEN !== undefined && issued.mfaTokens.has(data.TOKEN);
        if (!cached && data.PASSCODE !== user.mfaPasscode) {
          throw new SfError('394507', '08004', 'Failed to authenticate: MFA passcode is invalid.');
        }
      }
      return user;
    case 'SNOWFLAKE_JWT':
      verifyJwt(user, account, data.TOKEN);
      return user;
    case 'OAUTH':
      if (data.TOKEN === undefined || !(user.oauthTokens ?? []).includes(data.TOKEN)) {
        throw new SfError('390303', '08004', 'Invalid OAuth access token.');
      }
      return user;
    case 'PROGRAMMATIC_ACCESS_TOKEN':
      if (data.TOKEN === undefined || !(user.pats ?? []).includes(data.TOKEN)) {
        throw new SfError('394400', '08004', 'Programmatic access token is invalid.');
      }
      return user;
    case 'ID_TOKEN':
      if (data.TOKEN === undefined || !issued.idTokens.has(data.TOKEN)) {
        throw new SfError('390195', '08004', 'The provided ID Token is invalid.');
      }
      return user;
    default:
      throw new SfError('390190', '08004', `The authenticator '${authenticator}' is not supported by this test double.`);
  }
}

export function publicKeyFingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ format: 'der', type: 'spki' });
  return `SHA256:${createHash('sha256').update(der).digest('base64')}`;
}

function verifyJwt(user: DoubleUser, account: string, token: string | undefined): void {
  const invalid = (why: string): SfError => new SfError('390144', '08004', `JWT token is invalid. [${why}]`);
  if (user.publicKeyPem === undefined) throw invalid('no public key registered');
  if (token === undefined) throw invalid('missing token');
  const parts = token.split('.');
  if (parts.length !== 3) throw invalid('malformed');
  const [headerB64, payloadB64, signatureB64] = parts as [string, string, string];
  let header: { alg?: string };
  let payload: { iss?: string; sub?: string; iat?: number; exp?: number };
  try {
    header = JSON.parse(Buffer.from(headerB64, 'base64url').toString('utf8'));
    payload = JSON.parse(Buffer.from(payloadB64, 'base64url').toString('utf8'));
  } catch {
    throw invalid('malformed');
  }
  if (header.alg !== 'RS256') throw invalid('alg');
  const ok = verify('sha256', Buffer.from(`${headerB64}.${payloadB64}`), createPublicKey(user.publicKeyPem), Buffer.from(signatureB64, 'base64url'));
  if (!ok) throw invalid('signature');
  const subject = `${account.toUpperCase()}.${user.name.toUpperCase()}`;
  if (payload.sub !== subject) throw invalid('sub');
  if (payload.iss !== `${subject}.${publicKeyFingerprint(user.publicKeyPem)}`) throw invalid('iss');
  // snowflake-sdk 3.3.0 sends iat/exp in milliseconds; other clients send seconds.
  const toMs = (t: number | undefined): number => (t === undefined ? NaN : t > 1e12 ? t : t * 1000);
  const now = Date.now();
  if (!(toMs(payload.exp) > now) || !(toMs(payload.iat) <= now + 60_000)) throw invalid('expired');
}
