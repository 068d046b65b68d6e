/**
 * A shim's link to a hub on another machine: a WebSocket to the hub's /shim route (the `ws` package,
 * loaded only here, so a local shim never pays for it), authenticated with an API key, carrying the same
 * hello and line framing as the Unix socket. No hub is ever started from here.
 */
import type { Duplex } from 'node:stream';
import { SnowmuxError } from '../errors.js';
import { hideUrlCredentials, shownText, shownUrl } from '../shown-text.js';
import type { Hello } from '../wire/hello.js';
import { readProblem } from '../wire/bounded-read.js';
import { isLoopbackHost } from '../wire/loopback.js';
import { UntrustedFileError, readTrustedFile } from '../wire/file-trust.js';
import { describeGroup } from '../wire/account-names.js';
import { resolveUserPath } from '../user-path.js';
import { awaitWelcome, type OpenLink } from './hub-link.js';

export interface RemoteHub {
  url: string;
  key: string;
}

/**
 * ws:// only to a loopback host; anything that leaves the machine must be wss://. No user:password@: the
 * link's Authorization header carries the API key, and the ws client sends a URL's basic auth only when no
 * Authorization header is set, so it was dropped without a word, and a proxy that asked for it answered 401,
 * which the shim told the editor as a bad SNOWMUX_KEY.
 */
export function checkRemoteUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SnowmuxError('USAGE', `--url must be the hub's /shim address, e.g. wss://hub.example.com/shim; got "${shownText(shownUrl(url), 200)}".`);
  }
  if (u.username !== '' || u.password !== '') {
    throw new SnowmuxError(
      'USAGE',
      `--url ${shownText(shownUrl(url), 200)} holds a user:password@, which the shim cannot send: the link's Authorization header carries the hub's API key (from $SNOWMUX_KEY or --key-file). Give the hub's /shim address alone; a proxy in front of the hub must let the link through on the key.`,
    );
  }
  refuseInTheClear(u, url, { secure: 'wss:', plain: 'ws:', carried: 'the key and your SQL are' });
}

/**
 * `status --url`: the hub's HTTP address, https:// unless it is this machine (the key goes with every read,
 * and with --watch on every re-read and the /events stream). It must not carry a user:password@ (fetch
 * refuses to send one, and the hub's key goes in $SNOWMUX_KEY or --key-file).
 */
export function checkStatusUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SnowmuxError('USAGE', `--url must be the hub's HTTP address, e.g. https://hub.example.com or http://127.0.0.1:8765; got "${shownText(shownUrl(url), 200)}".`);
  }
  if (u.username !== '' || u.password !== '') {
    throw new SnowmuxError('USAGE', `--url ${shownText(shownUrl(url), 200)} holds a user:password@, which status cannot send: give the hub's address alone, and its API key in $SNOWMUX_KEY or --key-file.`);
  }
  refuseInTheClear(u, url, { secure: 'https:', plain: 'http:', carried: 'the key is' });
  return u;
}

/** The key (and, from a shim, every call) may go unencrypted only to this machine: the plain scheme to a loopback host. */
function refuseInTheClear(u: URL, url: string, schemes: { secure: string; plain: string; carried: string }): void {
  if (u.protocol === schemes.secure) return;
  if (u.protocol === schemes.plain && isLoopbackHost(u.hostname)) return;
  throw new SnowmuxError(
    'USAGE',
    `--url ${shownText(shownUrl(url), 200)}: use ${schemes.secure}// (${schemes.plain}// only to a loopback address), so ${schemes.carried} not sent in the clear.`,
  );
}

/** OpenSSL's verdicts on a certificate that chains to no authority this machine trusts (or is unusable). */
const UNTRUSTED_CERT = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_REVOKED', 'INVALID_CA', 'INVALID_PURPOSE',
  'CERT_CHAIN_TOO_LONG', 'PATH_LENGTH_EXCEEDED', 'CERT_SIGNATURE_FAILURE', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'ERR_TLS_CERT_SIGNATURE_ALGORITHM_UNSUPPORTED',
]);
const WRONG_NAME = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_TLS_CERT_ALTNAME_FORMAT', 'HOSTNAME_MISMATCH']);
const OUT_OF_DATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD']);

/**
 * A failed TLS connection to a wss:// or https:// --url, as what it is and what to do (HUB_TLS_FAILED), or
 * undefined for any other error. `at`: the URL as shown; `refused`: what did not happen ("the shim does not
 * link to it"). Said as a bare "self-signed certificate" the reason, and the fix (NODE_EXTRA_CA_CERTS, the
 * name on the certificate, a renewal, the address where TLS ends), were left to guess; and the shim took it
 * for a hub not up yet, so every call waited out the reconnect deadline first. Verification is never turned
 * off: the key and the SQL would go to whoever answers.
 */
export function tlsFailure(err: unknown, at: string, refused: string): SnowmuxError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  const text = errorText(err);
  // OpenSSL's own words ("…:SSL routines:ssl3_get_record:wrong version number:…"), without its file and line.
  const reason = shownText(/SSL routines:[^:]*:([^:]+)/.exec(text)?.[1] ?? text, 200);
  const said = `${reason} [${code}]`;
  const guarded = `${refused}, since the API key would go to whoever answers`;
  if (UNTRUSTED_CERT.has(code)) {
    return new SnowmuxError('HUB_TLS_FAILED', `${at} presents a TLS certificate this machine does not trust (${said}); ${guarded}. If the hub's certificate comes from your organisation's own CA, or is self-signed on purpose, put that CA's (or the certificate's) PEM file in NODE_EXTRA_CA_CERTS in this command's environment (for an editor: its MCP entry's "env"). Otherwise something else answers at that address.`);
  }
  if (WRONG_NAME.has(code)) {
    return new SnowmuxError('HUB_TLS_FAILED', `${at} presents a TLS certificate for another name (${said}); ${guarded}. Use in --url a name the certificate was issued for (the hub's public name, not its IP address or an alias), or have the hub's certificate cover this one.`);
  }
  if (OUT_OF_DATE.has(code)) {
    return new SnowmuxError('HUB_TLS_FAILED', `${at} presents a TLS certificate that is out of date (${said}); ${guarded}. Check this machine's clock; if it is right, whoever runs the hub must renew the certificate.`);
  }
  if (code === 'EPROTO' || code.startsWith('ERR_SSL_')) {
    return new SnowmuxError('HUB_TLS_FAILED', `No TLS connection could be set up with ${at} (${said}); ${refused}. The port may not speak TLS (the hub's own HTTP face is plain: TLS goes in front of it, on a proxy or load balancer): give --url the address where TLS is served.`);
  }
  return undefined;
}

function errorText(err: unknown): string {
  return hideUrlCredentials(err instanceof Error ? err.message : String(err));
}

/**
 * The API key as given in $SNOWMUX_KEY or a key file, without the surrounding whitespace such values
 * often carry (a file's last newline, a secret mounted with one, a pasted space). Whitespace inside is
 * refused: it cannot be a key, and sent in a header it failed every link with "Invalid character in header
 * content" while the shim retried forever.
 */
function cleanApiKey(raw: string | undefined, from: string): string | undefined {
  const key = raw?.trim();
  if (key === undefined || key === '') return undefined;
  if (/[\s\u0000-\u001f\u007f]/.test(key)) throw new SnowmuxError('USAGE', `The API key in ${from} has spaces or control characters inside it; it should be one word (smx_<id>_<secret>, as \`snowmux keys create\` printed it).`);
  return key;
}

/** An API key is ~60 characters: a file far larger is not the key file. */
const MAX_KEY_FILE_BYTES = 64 * 1024;
const READABLE_BY_OTHERS = 0o004;
const READABLE_BY_GROUP = 0o040;

/**
 * The API key from `--key-file` (a file that cannot be read, or holds nothing, is a usage error saying so:
 * the raw ENOENT named no option, and an empty file read as "no key sent" from the hub), else from
 * $SNOWMUX_KEY. The file is read as snowmux reads every credential file: a regular file (a FIFO hung the
 * editor's server start, /dev/zero swelled it), small, and one no other user could change — whoever could
 * swap in a key of their own would have this editor's SQL and results recorded under their identity, and
 * read them back; so is one another user owns (root aside), who could change it at any time. One that
 * others may read is used, with a warning (`warn`) that says who: every user, or the group by name and its
 * members, as ssh warns of a key.
 */
export function apiKeyFrom(keyFile: string | undefined, env: NodeJS.ProcessEnv, warn: (message: string) => void = (m) => process.stderr.write(`snowmux: ${m}\n`)): string | undefined {
  if (keyFile === undefined) return cleanApiKey(env.SNOWMUX_KEY, '$SNOWMUX_KEY');
  // An editor's entry reaches the shim without a shell: "~/..." is the home directory here as for --home.
  const path = resolveUserPath(keyFile, '--key-file', 'USAGE', undefined, env);
  let read: ReturnType<typeof readTrustedFile>;
  try {
    read = readTrustedFile(path, {
      what: `--key-file ${keyFile} decides whom the hub takes this editor for`,
      noun: 'the key file',
      // Whoever owns the file can swap in a key of their own, as the hub refuses its own files of another user.
      refuseOtherOwner: `Save the key in a file of your own (\`snowmux keys create\` printed it; ask its creator for it if not you), chmod 600 it, and pass that with --key-file; or set SNOWMUX_KEY.`,
    }, MAX_KEY_FILE_BYTES);
  } catch (err) {
    if (err instanceof UntrustedFileError) throw new SnowmuxError('CONFIG_UNSAFE', err.message, { cause: err });
    const code = (err as NodeJS.ErrnoException).code;
    const why = readProblem(err, MAX_KEY_FILE_BYTES) ?? code ?? (err as Error).message;
    throw new SnowmuxError('USAGE', `--key-file ${keyFile} cannot be read (${why}): give the file \`snowmux keys create\` output was saved to.`);
  }
  for (const warning of read.warnings) warn(warning);
  const mode = (read.stat.mode & 0o777).toString(8);
  if ((read.stat.mode & READABLE_BY_OTHERS) !== 0) {
    warn(`--key-file ${keyFile} may be read by every user of this machine (mode ${mode}): whoever reads it can call the hub as you. Run: chmod 600 ${keyFile}`);
  } else if ((read.stat.mode & READABLE_BY_GROUP) !== 0) {
    warn(`--key-file ${keyFile} may be read by its ${describeGroup(read.stat.gid)} (mode ${mode}): every member can read the key and call the hub as you. Unless that group is you alone, run: chmod 600 ${keyFile}`);
  }
  const key = cleanApiKey(read.text, keyFile);
  if (key === undefined) throw new SnowmuxError('USAGE', `--key-file ${keyFile} is empty: save the key \`snowmux keys create\` printed in it.`);
  return key;
}

/**
 * The hub's own reason from a refusal's body ({"error": "…"}, or a JSON-RPC error from /mcp), else the body,
 * as one short line with nothing a terminal would act on (it may be any server's page, a proxy's HTML).
 */
function detailOf(body: string): string {
  let detail = body;
  try {
    const error = (JSON.parse(body) as { error?: unknown }).error;
    if (typeof error === 'string') detail = error;
    else if (typeof (error as { message?: unknown } | undefined)?.message === 'string') detail = (error as { message: string }).message;
  } catch {
    /* not JSON: the body as it is */
  }
  return shownText(detail.replace(/\s+/g, ' ').trim(), 200);
}

/**
 * A redirect (3xx with a Location) answered to `url`, as a final refusal naming where it points (without
 * credentials, and in the scheme --url takes: `as`), or undefined for any other answer. Neither the shim nor
 * status follows one: the key would go with it wherever it points, and what answers there is not the hub
 * the user named. The shim used to take it for a hub not up yet ("answered HTTP 301:", retried for ever).
 */
export function redirectRefusal(url: string, status: number, location: string | undefined, as: 'ws' | 'http', by: string): SnowmuxError | undefined {
  if (status < 300 || status > 399 || location === undefined || location === '') return undefined;
  let target: string;
  try {
    target = new URL(location, url).href;
  } catch {
    target = location;
  }
  if (as === 'ws') target = target.replace(/^http(s?):/i, 'ws$1:');
  else target = target.replace(/^ws(s?):/i, 'http$1:');
  return new SnowmuxError(
    'HUB_BAD_HANDSHAKE',
    `${shownText(shownUrl(url), 200)} answered with a redirect (HTTP ${status}) to ${shownText(shownUrl(target), 200)}: ${by} follows no redirect, since the API key would go wherever it points. If that is the hub's address, give it as --url.`,
  );
}

/** The most of a refusal's body read: its reason is at the start (the hub's JSON is one short line). */
const MAX_REFUSAL_BODY_BYTES = 16 * 1024;

/** Answers to an upgrade that say the URL names no /shim endpoint: retrying the same URL cannot help. */
const NOT_A_SHIM_ROUTE = new Set([400, 404, 405, 426]);

/**
 * What an answer other than the upgrade means. 401 is the key; 403 is the hub's Host or Origin check (its
 * message names the setting to change), never the key; a 400/404/405/426 is a URL that is no /shim
 * endpoint. These are final (the shim says them at once, and checks again slowly). Anything else (503 while
 * a hub drains, 429, a proxy's 502) is a hub not there yet: retried.
 */
function refusalOf(url: string, status: number, detail: string): Error {
  const at = shownText(shownUrl(url), 200);
  const said = detail === '' ? '' : ` ${detail.replace(/[.\s]*$/, '.')}`;
  if (status === 401) return new SnowmuxError('HTTP_UNAUTHORIZED', `The hub at ${at} refused the link (HTTP 401):${said} Set SNOWMUX_KEY (or --key-file) to a valid key.`);
  if (status === 403) return new SnowmuxError('HTTP_UNAUTHORIZED', `The hub at ${at} refused the link (HTTP 403):${said}`);
  if (NOT_A_SHIM_ROUTE.has(status)) {
    const fix = /\/shim\/?$/.test(new URL(url).pathname)
      ? 'check that it is the hub\'s HTTP face (hub.http_listen) and that any proxy in between passes WebSocket upgrades on.'
      : 'the URL must end in /shim (e.g. wss://host/shim).';
    return new SnowmuxError('HUB_BAD_HANDSHAKE', `${at} is not a snowmux /shim endpoint: ${fix} (It answered HTTP ${status}:${said})`);
  }
  return Object.assign(new Error(`The hub at ${at} answered HTTP ${status}:${said}`), { code: 'ECONNREFUSED' });
}

export async function openRemoteLink(remote: RemoteHub, hello: Hello, timeoutMs: number): Promise<OpenLink> {
  const { WebSocket, createWebSocketStream } = await import('ws');
  return await new Promise<OpenLink>((resolve, reject) => {
    let settled = false;
    const ws = new WebSocket(remote.url, { headers: { authorization: `Bearer ${remote.key}` }, handshakeTimeout: timeoutMs, maxPayload: 64 * 1024 * 1024 });
    let stream: Duplex | undefined;
    const timer = setTimeout(() => fail(new SnowmuxError('HUB_NO_WELCOME', `The hub at ${shownText(shownUrl(remote.url), 200)} did not answer the handshake within ${timeoutMs} ms. The shim keeps trying.`)), timeoutMs);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream?.destroy();
      ws.terminate();
      reject(err);
    };
    ws.once('unexpected-response', (_req, res) => {
      const redirect = redirectRefusal(remote.url, res.statusCode ?? 0, res.headers.location, 'ws', 'the shim');
      if (redirect) {
        fail(redirect);
        return;
      }
      // Only the start of the body is read: it names the reason (the hub's is a short JSON line, a proxy's a
      // page). Read whole, a server that streamed one without end grew the shim by its bandwidth (hundreds
      // of MiB a second) until the handshake timeout, then did so again on every retry, and the refusal was
      // told as "did not answer the handshake". Past the bound, or at its end or a cut, it is said at once.
      const chunks: Buffer[] = [];
      let kept = 0;
      const refuse = () => fail(refusalOf(remote.url, res.statusCode ?? 0, detailOf(Buffer.concat(chunks).toString('utf8'))));
      res.on('data', (c: Buffer) => {
        if (kept >= MAX_REFUSAL_BODY_BYTES) return;
        const piece = c.subarray(0, MAX_REFUSAL_BODY_BYTES - kept);
        chunks.push(piece);
        kept += piece.length;
        if (kept >= MAX_REFUSAL_BODY_BYTES) refuse();
      });
      res.on('end', refuse);
      res.on('close', refuse);
      res.on('error', refuse);
    });
    // The ws client's own errors may quote the URL (an invalid one, a redirect's target): shown without its password.
    ws.once('error', (err: NodeJS.ErrnoException) => fail(
      tlsFailure(err, shownText(shownUrl(remote.url), 200), 'the shim does not link to it')
        ?? Object.assign(err, { message: hideUrlCredentials(err.message), code: err.code ?? 'ECONNREFUSED' }),
    ));
    ws.once('open', () => {
      const link = createWebSocketStream(ws);
      stream = link;
      link.on('error', () => {});
      // The stream only ends its readable side when the WebSocket closes; the shim (like a socket's user)
      // learns a link is gone from 'close', so close it all at once.
      ws.once('close', () => link.destroy());
      awaitWelcome(link, {
        welcome: (welcome, rest) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ socket: link, welcome, rest });
        },
        fail,
        notAHub: () => new SnowmuxError('HUB_BAD_HANDSHAKE', `${shownText(shownUrl(remote.url), 200)} is not a snowmux hub's /shim (unexpected handshake reply).`),
      });
      link.once('close', () => fail(Object.assign(new Error('The hub closed the link during the handshake.'), { code: 'ECONNRESET' })));
      link.write(`${JSON.stringify(hello)}\n`);
    });
  });
}
