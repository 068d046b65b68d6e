/**
 * snowflake-sdk errors → SnowmuxError with a stable code. User SQL errors and infrastructure failures are
 * told apart by `details.infrastructure`, so the circuit breaker never trips on a typo — nor on credentials
 * Snowflake refuses (AUTH_FAILED): those are no outage, the pool stops logging in with them (snowflake-pool.ts),
 * and a breaker counting them only hid the refusal behind "check the network". Messages name the
 * profile, the Snowflake code, the query id and — for logins — the setting to check and where it was set;
 * they never contain a secret (driver error objects are not attached as causes: some carry HTTP details).
 */
import { SnowmuxError, isSnowmuxError } from '../../../errors.js';
import { shownSettingName } from '../../config/profile-settings.js';
import type { SnowflakeProfile } from '../../config/profile-types.js';

export type ErrorPhase = 'login' | 'statement' | 'fetch';

export interface ErrorContext {
  profile: SnowflakeProfile;
  phase: ErrorPhase;
  queryId?: string | undefined;
  /** The setting the statement's timeout came from, named when Snowflake stops it at that timeout. */
  timeoutSetting?: string | undefined;
}

/**
 * Server codes meaning the session is gone: the call may be retried once on a fresh connection. 390303/390318
 * (OAuth token invalid/expired) come on the statements of a session that logged in with an OAuth token once
 * the token ends: that session serves nothing more, and a new login says whether the token in the settings is
 * still good (a refreshed token file already opened a pool of its own).
 */
const SESSION_LOST_CODES = new Set(['390104', '390111', '390112', '390114', '390303', '390318', '407001', '407002', '405503', '406502']);
const OAUTH_ENDED_CODES = new Set(['390303', '390318']);
const NOT_FOUND_CODES = new Set(['002003', '002043', '000709']);
const LOGIN_AUTH_CODES = new Set([
  '390100', // incorrect username or password
  '390144', // JWT invalid
  '390303', // OAuth token invalid
  '390318', // OAuth token expired
  '394400', // programmatic access token invalid
  '390195', // id token invalid
  '394507', // MFA failed
  '394508', // MFA required
  '390189', // role not granted
  '390201', // account does not exist
  '390101', // user access disabled
  '390102', // user temporarily locked
  '390106', // password expired
  '390190', // authenticator not supported
  '390422', // network policy: the client's IP address is not allowed
]);
/**
 * HTTP statuses a Snowflake host answers a login with when the address names no account it serves (a wrong or
 * incomplete account identifier): 403 Forbidden, 513 since 2024, 404 where no such path is served.
 */
const LOGIN_NO_ACCOUNT_STATUSES = new Set([403, 404, 513]);

/** The HTTP status of a driver's "request failed" error (401002), when the answer had one. */
function httpStatusOf(err: unknown): number | undefined {
  const status = (err as { response?: { statusCode?: unknown } } | null)?.response?.statusCode;
  return typeof status === 'number' && Number.isInteger(status) && status >= 100 && status <= 599 ? status : undefined;
}

/** snowflake-sdk's own codes for transport failures (numbers). */
const NETWORK_DRIVER_CODES = new Set([401001, 401002, 401003, 402001, 402002]);

interface DriverErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  sqlState?: unknown;
  data?: { queryId?: unknown } | undefined;
}

function shape(err: unknown): DriverErrorShape {
  return typeof err === 'object' && err !== null ? (err as DriverErrorShape) : { message: String(err) };
}

export function driverCode(err: unknown): string | undefined {
  const code = shape(err).code;
  if (typeof code === 'string') return code;
  if (typeof code === 'number') return String(code);
  return undefined;
}

/** True when the connection's session is gone (expired master token, session deleted, disconnected). */
export function isSessionLost(err: unknown): boolean {
  if (isSnowmuxError(err)) return err.code === 'CONNECTION_LOST';
  const code = driverCode(err);
  return code !== undefined && SESSION_LOST_CODES.has(code);
}

/**
 * One of the profile's own settings by its config key and where it was set; one nobody set is named with its
 * profile ("statement_timeout_s of [profiles.prod]") so the user knows where to add it.
 */
export function profileTimeoutSetting(profile: SnowflakeProfile, field: 'statementTimeoutMs' | 'pool.acquireTimeoutMs' = 'statementTimeoutMs'): string {
  return profile.sources[field] === undefined ? `${shownSettingName(field)} of [profiles.${profile.name}]` : settingLabel(profile, field);
}

/** A profile setting by where it was set, or, when no source is known, by the profile it belongs to. */
function profileSettingLabel(profile: SnowflakeProfile, key: string): string {
  return profile.sources[key] === undefined ? `${shownSettingName(key)} of [profiles.${profile.name}]` : settingLabel(profile, key);
}

/** A setting as messages name it — the key a user writes, and where the value in use came from. */
export function settingLabel(profile: SnowflakeProfile, key: string): string {
  const source = profile.sources[key];
  const name = shownSettingName(key);
  return source === undefined ? name : `${name} (set by ${source})`;
}

/**
 * What to do when Snowflake refuses a login because of the user's state, not its credentials: told by the
 * message, whose wording Snowflake keeps stable while the codes of these cases are not documented. Undefined
 * when the message is about something else. These are refusals, not outages: not retried as a network
 * failure would be, and the fix is named.
 */
export function userStateHint(profile: SnowflakeProfile, message: string): string | undefined {
  const user = `user "${profile.user}"`;
  if (/password\b.*\b(expired|must be changed)|change (your|the) password/i.test(message)) {
    return `The password of ${user} has expired: set a new one (sign in to Snowsight, or an administrator runs ALTER USER ${profile.user} SET PASSWORD = …), put it in ${settingLabel(profile, 'password')}, then run \`snowmux hub --replace\`. A key pair or a programmatic access token does not expire this way.`;
  }
  if (/\b(user access disabled|user is disabled|user .*has been disabled)\b/i.test(message)) {
    return `${user} is disabled in Snowflake: an administrator must enable it (ALTER USER ${profile.user} SET DISABLED = FALSE), or use another user in ${settingLabel(profile, 'user')}.`;
  }
  if (/\b(temporarily locked|user is locked|account is locked|locked out)\b/i.test(message)) {
    return `${user} is locked after failed logins; it unlocks by itself (15 minutes by default) or when an administrator runs ALTER USER ${profile.user} SET MINS_TO_UNLOCK = 0. Check ${settingLabel(profile, 'password')} first: each login with a wrong one counts toward the lock.`;
  }
  return undefined;
}

/** Which settings to check when Snowflake refuses a login, by authentication method. */
export function credentialHint(profile: SnowflakeProfile, code: string | undefined): string {
  const auth = profile.auth;
  if (code === '394508' && auth.method === 'password' && !auth.mfa) {
    const now = profile.sources['authenticator'];
    return `User "${profile.user}" must sign in with MFA: set authenticator = "username_password_mfa" in the profile${now === undefined ? '' : ` (now set by ${now})`} and approve the push on your device, or set passcode; the hub caches the MFA token, so its other connections do not ask again.`;
  }
  if (code === '390189') return `Check the role: ${settingLabel(profile, 'role')} must be granted to user "${profile.user}".`;
  if (code === '390201') return `Check the account: ${settingLabel(profile, 'account')}.`;
  if (code === '390422') return `Snowflake's network policy does not allow this machine's IP address for user "${profile.user}": an administrator must allow it (the user's or the account's NETWORK_POLICY), or run the hub where it is allowed.`;
  const user = settingLabel(profile, 'user');
  switch (auth.method) {
    case 'password':
      return `Check ${user} and ${settingLabel(profile, 'password')}${auth.mfa ? ` and the MFA passcode (${settingLabel(profile, 'passcode')})` : ''}.`;
    case 'mfa':
      return `Check ${user}, ${settingLabel(profile, 'password')} and the MFA passcode (${settingLabel(profile, 'passcode')}), and approve the push on your device.`;
    case 'keypair':
      return `Check ${user} and the private key (${auth.source}); its public key must be registered on the user (ALTER USER … SET RSA_PUBLIC_KEY).`;
    case 'oauth':
      return `Check ${user} and the OAuth token (${tokenLabel(profile)}); it may have expired — get a fresh one.`;
    case 'pat':
      return `Check ${user} and the programmatic access token (${tokenLabel(profile)}); it may have expired or been revoked.`;
    case 'externalbrowser':
      return `Complete the browser sign-in for ${user}; the cached SSO token may have expired.`;
  }
}

/** Where the token in use came from: the `token` setting, else the file `token_file_path` names. */
function tokenLabel(profile: SnowflakeProfile): string {
  if (profile.sources['token'] === undefined && profile.sources['tokenFilePath'] !== undefined) return `the file named by ${settingLabel(profile, 'tokenFilePath')}`;
  return settingLabel(profile, 'token');
}

function oneLine(message: unknown): string {
  return String(message ?? '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}

function who(profile: SnowflakeProfile): string {
  return `profile "${profile.name}" (account "${profile.account}", user "${profile.user}")`;
}

/** Starts the message of the error a browser sign-in fails with on a hub that cannot open a browser (connection-options.ts). */
export const NO_BROWSER_MARK = "snowmux: no browser on the hub's machine:";

/**
 * The driver's browser sign-in (EXTERNALBROWSER) that ended without Snowflake being asked: nobody finished the
 * sign-in page within the driver's wait (browserActionTimeout, 120 s), or the identity provider answered with an
 * error. These have no Snowflake code, and went out as "Login to Snowflake failed … check the network; the call
 * can be retried" — counted by the breaker as an outage, and silent on what the person had to do.
 */
function browserSignInError(profile: SnowflakeProfile, text: string, base: Record<string, unknown>): SnowmuxError | undefined {
  if (profile.auth.method !== 'externalbrowser') return undefined;
  const whose = `The browser sign-in for profile "${profile.name}" (user "${profile.user}")`;
  const headless = text.indexOf(NO_BROWSER_MARK);
  if (headless !== -1) {
    // The sign-in URL is not shown: its proof key is half of the login, and its redirect goes to a port on
    // the hub's machine, so a browser elsewhere could not finish it anyway.
    const why = text.slice(headless + NO_BROWSER_MARK.length).trim().replace(/\.+$/, '');
    return new SnowmuxError(
      'AUTH_FAILED',
      `${whose} cannot be done where the hub runs: ${why}, so Snowflake's sign-in page cannot be opened there; nothing ran in Snowflake. ` +
        'Use a key pair (SNOWFLAKE_JWT) or a programmatic access token for this profile, or run the hub from a terminal of a desktop session ' +
        '(where a browser opens: `snowmux hub --replace` there), or set BROWSER to a browser command the hub can run.',
      { details: { ...base, infrastructure: false, transient: false, setting: 'authenticator' } },
    );
  }
  const timedOut = /Browser action timed out after (\d+) ms/i.exec(text);
  if (timedOut !== null) {
    const seconds = Number((Number(timedOut[1]) / 1000).toFixed(1));
    return new SnowmuxError(
      'WAREHOUSE_UNAVAILABLE',
      `${whose} was not finished within ${seconds} s: Snowflake's sign-in page was opened in a browser on the hub's machine and nobody completed it; nothing ran in Snowflake. ` +
        'Run the call again to be asked again. If no browser window appeared (a hub on a machine without a desktop, or started as a service), ' +
        'this profile cannot sign in there: use a key pair (SNOWFLAKE_JWT) or a programmatic access token for it, or run the hub where you can use a browser.',
      { details: { ...base, infrastructure: false, transient: true, awaitingPerson: true } },
    );
  }
  const refused = /Error while getting SAML token:\s*(.*)$/i.exec(text);
  if (refused !== null) {
    return new SnowmuxError(
      'AUTH_FAILED',
      `${whose} did not complete: the identity provider answered ${refused[1]?.replace(/\.+$/, '') || 'with an error'}. ` +
        `Check that ${settingLabel(profile, 'user')} is the Snowflake user you signed in as, and sign in again (run the call again).`,
      { details: { ...base, infrastructure: false, transient: false } },
    );
  }
  return undefined;
}

/** Maps any error thrown by the driver (or by our own plumbing) to a SnowmuxError. */
export function toSnowmuxError(err: unknown, ctx: ErrorContext): SnowmuxError {
  if (isSnowmuxError(err)) return err;
  const e = shape(err);
  const code = driverCode(err);
  const sqlState = typeof e.sqlState === 'string' ? e.sqlState : undefined;
  const queryId = ctx.queryId ?? (typeof e.data?.queryId === 'string' ? e.data.queryId : undefined);
  const text = oneLine(e.message);
  const base = { snowflakeCode: code, sqlState, queryId, profile: ctx.profile.name };
  const idText = queryId ? `, query id ${queryId}` : '';

  const status = httpStatusOf(err);
  if (code === '401002' && ctx.phase === 'login' && status !== undefined && LOGIN_NO_ACCOUNT_STATUSES.has(status)) {
    // Snowflake answered, so "could not be reached … can be retried" sent people after the network. The host
    // of an account identifier that names no account (a legacy locator without its region and cloud, a typo)
    // answers the login with 403 (513 lately); every retry gets the same.
    const where = ctx.profile.accessUrl !== undefined ? settingLabel(ctx.profile, 'accessUrl') : ctx.profile.host !== undefined ? settingLabel(ctx.profile, 'host') : settingLabel(ctx.profile, 'account');
    return new SnowmuxError(
      'WAREHOUSE_UNAVAILABLE',
      `Snowflake answered the login of ${who(ctx.profile)} with HTTP ${status}: the address the hub logs in at names no Snowflake account it serves. Check ${where}: ` +
        `use the <organization>-<account> form Snowsight shows ("Connect a tool to Snowflake"), or a legacy account locator with its region and cloud (e.g. xy12345.us-east-2.aws; only AWS us-west-2 has none). ` +
        `A proxy between the hub and Snowflake that refuses the request answers this way too. Retrying does not help until the setting is fixed.`,
      { details: { ...base, httpStatus: status, setting: ctx.profile.accessUrl !== undefined ? 'accessUrl' : ctx.profile.host !== undefined ? 'host' : 'account', infrastructure: false, transient: false } },
    );
  }
  if (code !== undefined && NETWORK_DRIVER_CODES.has(Number(code))) {
    if (code === '401002' && status !== undefined) {
      // An HTTP answer is no failure to reach Snowflake: say what it answered.
      return new SnowmuxError(
        'WAREHOUSE_UNAVAILABLE',
        `Snowflake answered HTTP ${status} for ${who(ctx.profile)}${ctx.phase === 'login' ? ' at login' : ''} (code ${code}). Check ${settingLabel(ctx.profile, 'account')} and any proxy between the hub and Snowflake; the call can be retried.`,
        { details: { ...base, httpStatus: status, infrastructure: true, transient: true } },
      );
    }
    return new SnowmuxError(
      'WAREHOUSE_UNAVAILABLE',
      `Snowflake could not be reached for ${who(ctx.profile)}: ${text || 'network error'} (code ${code}). Check the network, proxy and ${settingLabel(ctx.profile, 'account')}; the call can be retried.`,
      { details: { ...base, infrastructure: true, transient: true } },
    );
  }
  if (ctx.phase === 'login') {
    const state = userStateHint(ctx.profile, text);
    if (state !== undefined) {
      return new SnowmuxError('AUTH_FAILED', `Snowflake refused the login of ${who(ctx.profile)}: ${text}${code ? ` (code ${code})` : ''}. ${state}`, {
        details: { ...base, infrastructure: false, transient: false },
      });
    }
    const browser = browserSignInError(ctx.profile, text, base);
    if (browser !== undefined) return browser;
    if (code !== undefined && LOGIN_AUTH_CODES.has(code)) {
      return new SnowmuxError(
        'AUTH_FAILED',
        `Snowflake refused the login of ${who(ctx.profile)}: ${text} (code ${code}). ${credentialHint(ctx.profile, code)}`,
        { details: { ...base, infrastructure: false, transient: false } },
      );
    }
    return new SnowmuxError(
      'WAREHOUSE_UNAVAILABLE',
      `Login to Snowflake failed for ${who(ctx.profile)}: ${text || 'unknown error'}${code ? ` (code ${code})` : ''}. Check ${settingLabel(ctx.profile, 'account')} and the network; the call can be retried.`,
      { details: { ...base, infrastructure: true } },
    );
  }
  if (isSessionLost(err)) {
    const token = code !== undefined && OAUTH_ENDED_CODES.has(code) ? ` ${credentialHint(ctx.profile, code)}` : '';
    return new SnowmuxError(
      'CONNECTION_LOST',
      `The Snowflake session of ${who(ctx.profile)} ended (${text.replace(/\.+$/, '') || 'session gone'}${code ? `, code ${code}` : ''}). The hub reconnects; run the call again.${token}`,
      { details: { ...base, infrastructure: true, transient: true } },
    );
  }
  if (code === '000604') {
    return new SnowmuxError('QUERY_CANCELLED', `The statement was cancelled in Snowflake${idText}. Run it again if you still need it.`, {
      details: { ...base, infrastructure: false },
    });
  }
  if (code === '000630') {
    return new SnowmuxError(
      'QUERY_TIMEOUT',
      `Snowflake stopped the statement at its statement timeout${idText}: ${text}. Narrow the query, or raise ${ctx.timeoutSetting ?? profileTimeoutSetting(ctx.profile)}.`,
      // A heavy query reaching its own limit is not an outage.
      { details: { ...base, infrastructure: false } },
    );
  }
  if (code === '000606') {
    // Snowflake's own advice ("use warehouse") does not hold through the hub: each call's session is reset
    // to the profile's context, so a USE WAREHOUSE lasts one call. Say which setting gives the warehouse.
    // A profile's warehouse that does not exist or the role may not use leaves the session without one:
    // Snowflake logs in anyway.
    const wanted = ctx.profile.warehouse === undefined ? 'sets no warehouse' : `sets warehouse ${ctx.profile.warehouse}, which does not exist or the role may not use (USAGE)`;
    return new SnowmuxError(
      'SQL_ERROR',
      `The statement needs a running warehouse and the session has none${idText}: ${text} The profile "${ctx.profile.name}" ${wanted}. ` +
        `Set ${profileSettingLabel(ctx.profile, 'warehouse')} to a warehouse the role may use (SHOW WAREHOUSES lists them), or have an administrator GRANT USAGE ON WAREHOUSE … TO ROLE …; a USE WAREHOUSE in a call lasts that call only.`,
      { details: { ...base, infrastructure: false, notRun: true, setting: 'warehouse' } },
    );
  }
  if (code === '000008') {
    return new SnowmuxError('SQL_MULTI_STATEMENT', `Snowflake refused multi-statement text (MULTI_STATEMENT_COUNT = 1)${idText}: ${text} Send one statement per call.`, {
      details: { ...base, infrastructure: false },
    });
  }
  if (code !== undefined && NOT_FOUND_CODES.has(code)) {
    return new SnowmuxError(
      'OBJECT_NOT_FOUND',
      `${text.replace(/^SQL compilation error:\s*/, '')} (Snowflake code ${code}${idText}). Check the name — quoted names are case-sensitive — and that the role can see it.`,
      { details: { ...base, infrastructure: false } },
    );
  }
  if (code === '003001' || code === '003003') {
    return new SnowmuxError('PERMISSION_DENIED', `${text} (Snowflake code ${code}${idText}). Ask for the privilege, or use a role that has it.`, {
      details: { ...base, infrastructure: false },
    });
  }
  if (code === '460001' || code === '460002' || code === '460003') {
    // RESULT_NOT_FOUND, as the embedded warehouse answers an id it does not keep: a client that acts on the
    // code (run the query again) must not see "no such object" for the same situation on Snowflake.
    return new SnowmuxError('RESULT_NOT_FOUND', `No finished result for query id ${queryId ?? ''}: ${text} Results are kept for 24 hours and only for the same user; run the query again.`, {
      details: { ...base, infrastructure: false },
    });
  }
  if (sqlState !== undefined && sqlState.startsWith('XX') && queryId !== undefined) {
    // Snowflake took the statement (it has a query id) and failed inside it: most often this statement's own doing
    // (too big for the warehouse's memory, a UDF that crashes), and the same every time it runs. Counted by the
    // breaker, one caller's heavy query paused every user of the profile; retried, it ran (and billed) twice more.
    return new SnowmuxError(
      'WAREHOUSE_ERROR',
      `Snowflake ran the statement and failed inside it (code ${code ?? '?'}, SQLSTATE ${sqlState}, query id ${queryId}): ${text.replace(/\.+$/, '')}. ` +
        `It was not sent again: if it fails the same way once more, it is this statement (narrow it, or run it on a larger warehouse); Snowflake support can trace it by the query id.`,
      { details: { ...base, infrastructure: false, transient: false } },
    );
  }
  if (sqlState !== undefined && (sqlState.startsWith('08') || sqlState.startsWith('XX'))) {
    return new SnowmuxError('WAREHOUSE_ERROR', `Snowflake failed (code ${code ?? '?'}, SQLSTATE ${sqlState}${idText}): ${text}. The call can be retried.`, {
      details: { ...base, infrastructure: true },
    });
  }
  if (code === undefined && text === '' && sqlState === undefined) {
    // Nothing Snowflake said: the driver could not read the answer (a proxy that rewrote its content type
    // gave "Snowflake rejected the statement (code ?): " as the user's SQL error, never retried nor counted).
    return new SnowmuxError('WAREHOUSE_ERROR', `Snowflake's answer for ${who(ctx.profile)} could not be read (no error code, no message: a proxy between the hub and Snowflake may have changed it). The call can be retried; if it keeps failing, check the proxy.`, {
      details: { ...base, infrastructure: true },
    });
  }
  if (sqlState !== undefined || e.name === 'OperationFailedError') {
    // A compilation error never ran (no warehouse time): the quota does not count it.
    const notRun = /^SQL compilation error/i.test(text);
    return new SnowmuxError('SQL_ERROR', `Snowflake rejected the statement (code ${code ?? '?'}${sqlState ? `, SQLSTATE ${sqlState}` : ''}${idText}): ${text}`, {
      details: { ...base, infrastructure: false, ...(notRun ? { notRun: true } : {}) },
    });
  }
  // Driver argument errors (bad binds, bad options) are the caller's; anything else is unexpected.
  const clientArgument = code !== undefined && /^4(09|10|11|50)\d{3}$/.test(code);
  return new SnowmuxError(
    clientArgument ? 'SQL_ERROR' : 'WAREHOUSE_ERROR',
    `The Snowflake driver failed for ${who(ctx.profile)}: ${text || 'unknown error'}${code ? ` (code ${code})` : ''}${idText}.`,
    { details: { ...base, infrastructure: !clientArgument } },
  );
}

/**
 * Reading a finished statement's rows failed: Snowflake ran it and sent the first part of its result, but a
 * large result's later parts come from the account's cloud storage (S3, Azure Blob, GCS) — another host than
 * the account's, which a firewall or proxy may block while every small query works. Said as that, with the
 * hosts to allow and how to read the result without running it again; not counted by the breaker (Snowflake
 * answers, and a blocked storage host would otherwise pause every small query too) and not retried (the
 * statement would run again and its download fail again).
 */
export function resultDownloadError(err: unknown, ctx: ErrorContext & { fromRow: number }): SnowmuxError {
  if (isSnowmuxError(err)) return err;
  const e = shape(err) as DriverErrorShape & { response?: { statusCode?: unknown } };
  const code = driverCode(err);
  const status = typeof e.response?.statusCode === 'number' ? e.response.statusCode : undefined;
  const why =
    code === '402002'
      ? `the storage answered${status !== undefined ? ` HTTP ${status}` : ' with an error'}`
      : code === '402001'
        ? 'the storage could not be reached'
        : `the driver failed: ${oneLine(e.message) || 'unknown error'}`;
  const id = ctx.queryId;
  const again = id === undefined ? 'Run the query again once it is reachable.' : `Then read the result with fetch_results(query_id="${id}", offset=${ctx.fromRow}) — it is kept for 24 hours, so nothing runs again.`;
  return new SnowmuxError(
    'RESULT_DOWNLOAD_FAILED',
    `Snowflake ran the statement${id === undefined ? '' : ` (query id ${id})`} for ${who(ctx.profile)}, but its rows from row ${ctx.fromRow + 1} on could not be downloaded: ` +
      `Snowflake hands out a large result from the account's cloud storage, not from the account's host, and ${why}${code ? ` (code ${code})` : ''}. ` +
      `Let this machine reach the STAGE hosts that SELECT SYSTEM$ALLOWLIST() lists (firewall, proxy, NO_PROXY). ${again}`,
    { details: { snowflakeCode: code, queryId: id, profile: ctx.profile.name, httpStatus: status, infrastructure: false } },
  );
}

/** Where the value of a context field the hub switches to came from: the profile's setting, or the call's hub role or arguments. */
export type ContextOrigin = 'profile' | 'call';

const CALL_CONTEXT_SOURCE: Record<'role' | 'warehouse' | 'database' | 'schema', string> = {
  role: 'snowflake_role of the caller\'s hub role ([roles.*] in config.toml)',
  warehouse: 'warehouse of the caller\'s hub role ([roles.*] in config.toml)',
  database: 'the call\'s database argument',
  schema: 'the call\'s schema argument',
};

/**
 * A USE statement the hub sent to give a pooled connection the call's context failed. Snowflake's error is
 * about that USE, not the caller's SQL (which was not sent): said so, with the value, the setting it came
 * from and what makes it work. Without this, a profile whose warehouse or database does not exist (or is not
 * granted to the role) — Snowflake logs in with it anyway — failed every call, even `SELECT 1`, with "Object
 * does not exist … Check the name", naming nothing the caller wrote.
 */
export function contextSwitchError(
  error: SnowmuxError,
  profile: SnowflakeProfile,
  use: { sql: string; fields: readonly ('role' | 'warehouse' | 'database' | 'schema')[]; origin: ContextOrigin; role: string | null },
): SnowmuxError {
  if (!['OBJECT_NOT_FOUND', 'PERMISSION_DENIED', 'SQL_ERROR'].includes(error.code)) return error;
  const field = use.fields.includes('schema') ? 'schema' : use.fields[0]!;
  const sources = use.fields.map((f) => (use.origin === 'profile' ? profileSettingLabel(profile, f) : CALL_CONTEXT_SOURCE[f])).join(' and ');
  const details = error.details ?? {};
  const said = `${typeof details['snowflakeCode'] === 'string' ? `Snowflake code ${details['snowflakeCode']}` : 'Snowflake'}${typeof details['queryId'] === 'string' ? `, query id ${details['queryId']}` : ''}`;
  const snowflakeText = error.message.replace(/\s*\(Snowflake code [^)]*\)\..*$/s, '').replace(/^SQL compilation error:\s*/, '');
  const as = use.role === null ? 'the session\'s role' : `role ${use.role}`;
  // USE SCHEMA without a current database (090105): the schema is not what is wrong; the database it needs is missing.
  const noDatabase = field === 'schema' && !use.fields.includes('database') && /does not have a current database/i.test(snowflakeText);
  const fix = noDatabase
    ? `The session has no current database to find the schema in (${profile.database === undefined || profile.database === '' ? `profile "${profile.name}" sets no default database` : 'its database is not the one the schema is in'}): ` +
      `pass database too${use.origin === 'call' ? ' (the call\'s database argument)' : ''}, or qualify the names in the query (DATABASE.SCHEMA.NAME).`
    : field === 'role'
      ? `The role does not exist or is not granted to user "${profile.user}": fix ${sources}, or have an administrator GRANT ROLE … TO USER ${profile.user}.`
      : field === 'warehouse'
        ? `The warehouse does not exist or ${as} may not use it: fix ${sources}, or have an administrator GRANT USAGE ON WAREHOUSE … TO ROLE ….`
        : `The ${field} does not exist or ${as} may not use it: fix ${sources}, or have an administrator GRANT USAGE ON ${field.toUpperCase()} … TO ROLE ….`;
  return new SnowmuxError(
    error.code,
    `Snowflake refused \`${use.sql}\`, which the hub sends to give the session the call's ${use.fields.join(' and ')} (from ${sources}): ${snowflakeText} (${said}). Your statement was not sent. ${fix}`,
    { cause: error.cause, details: { ...details, setting: field, notRun: true } },
  );
}
