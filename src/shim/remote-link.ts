/**
 * A shim's link to a hub on another machine: a WebSocket to the hub's /shim route (the `ws` package,
 * loaded only here, so a local shim never pays for it), authenticated with an API key, carrying the same
 * hello and line framing as the Unix socket. No hub is ever started from here.
 */
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { SnowmuxError } from '../errors.js';
import type { Hello } from '../wire/hello.js';
import { awaitWelcome, type OpenLink } from './hub-link.js';

export interface RemoteHub {
  url: string;
  key: string;
}

/** ws:// only to a loopback host; anything that leaves the machine must be wss://. */
export function checkRemoteUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SnowmuxError('USAGE', `--url must be the hub's /shim address, e.g. wss://hub.example.com/shim; got "${url}".`);
  }
  if (u.protocol === 'wss:') return;
  const loopback = u.hostname === 'localhost' || u.hostname === '[::1]' || /^127\./.test(u.hostname);
  if (u.protocol === 'ws:' && loopback) return;
  throw new SnowmuxError('USAGE', `--url ${url}: use wss:// (ws:// only to a loopback address), so the key and your SQL are not sent in the clear.`);
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

/**
 * The API key from `--key-file` (a file that cannot be read, or holds nothing, is a usage error saying so:
 * the raw ENOENT named no option, and an empty file read as "no key sent" from the hub), else from
 * $SNOWMUX_KEY.
 */
export function apiKeyFrom(keyFile: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (keyFile === undefined) return cleanApiKey(env.SNOWMUX_KEY, '$SNOWMUX_KEY');
  let text: string;
  try {
    text = readFileSync(keyFile, 'utf8');
  } catch (err) {
    throw new SnowmuxError('USAGE', `--key-file ${keyFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): give the file \`snowmux keys create\` output was saved to.`);
  }
  const key = cleanApiKey(text, keyFile);
  if (key === undefined) throw new SnowmuxError('USAGE', `--key-file ${keyFile} is empty: save the key \`snowmux keys create\` printed in it.`);
  return key;
}

export async function openRemoteLink(remote: RemoteHub, hello: Hello, timeoutMs: number): Promise<OpenLink> {
  const { WebSocket, createWebSocketStream } = await import('ws');
  return await new Promise<OpenLink>((resolve, reject) => {
    let settled = false;
    const ws = new WebSocket(remote.url, { headers: { authorization: `Bearer ${remote.key}` }, handshakeTimeout: timeoutMs, maxPayload: 64 * 1024 * 1024 });
    let stream: Duplex | undefined;
    const timer = setTimeout(() => fail(new SnowmuxError('HUB_NO_WELCOME', `The hub at ${remote.url} did not answer the handshake within ${timeoutMs} ms. The shim keeps trying.`)), timeoutMs);
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream?.destroy();
      ws.terminate();
      reject(err);
    };
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const detail = ((): string => {
          try {
            return (JSON.parse(body) as { error?: string }).error ?? body;
          } catch {
            return body;
          }
        })();
        const status = res.statusCode ?? 0;
        if (status === 401 || status === 403) fail(new SnowmuxError('HTTP_UNAUTHORIZED', `The hub at ${remote.url} refused the link (HTTP ${status}): ${detail} Set SNOWMUX_KEY (or --key-file) to a valid key.`));
        // Draining or overloaded: like a hub that is not there yet, retry.
        else fail(Object.assign(new Error(`The hub at ${remote.url} answered HTTP ${status}: ${detail}`), { code: 'ECONNREFUSED' }));
      });
    });
    ws.once('error', (err: NodeJS.ErrnoException) => fail(Object.assign(err, { code: err.code ?? 'ECONNREFUSED' })));
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
        notAHub: () => new SnowmuxError('HUB_BAD_HANDSHAKE', `${remote.url} is not a snowmux hub's /shim (unexpected handshake reply).`),
      });
      link.once('close', () => fail(Object.assign(new Error('The hub closed the link during the handshake.'), { code: 'ECONNRESET' })));
      link.write(`${JSON.stringify(hello)}\n`);
    });
  });
}
