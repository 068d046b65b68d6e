/**
 * Talks to a running hub over the control protocol (status, stop, replace).
 */
import { SnowmuxError } from '../errors.js';
import { snowmuxCommand } from '../snowmux-command.js';
import { isErrorCode } from '../error-codes.js';
import { LineDecoder, encodeLine } from '../wire/framing.js';
import { makeHello } from '../wire/hello.js';
import { isNoHub, openLink } from '../shim/hub-link.js';

/** `home`: the hub's home, so the advice to start one names it (`snowmux hub` alone starts one in ~/.snowmux). */
export async function controlRequest<T = unknown>(socketPath: string, op: string, timeoutMs = 5_000, home?: string): Promise<T> {
  let link;
  try {
    link = await openLink(socketPath, makeHello({ role: 'control', pid: process.pid }), timeoutMs, home);
  } catch (err) {
    if (isNoHub(err)) {
      throw new SnowmuxError('HUB_NOT_RUNNING', `No snowmux hub is running at ${socketPath}. Start one with \`${home === undefined ? 'snowmux hub' : snowmuxCommand('hub', home)}\` (editors' shims start one automatically).`);
    }
    throw err;
  }
  const { socket, rest } = link;
  return new Promise<T>((resolve, reject) => {
    const decoder = new LineDecoder(64 * 1024 * 1024);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SnowmuxError('HUB_NO_ANSWER', `The hub did not answer "${op}" within ${timeoutMs} ms. It may be overloaded or frozen.`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => decoder.push(chunk, (ev) => {
      if (ev.kind !== 'line') return;
      clearTimeout(timer);
      socket.end();
      const reply = JSON.parse(ev.line.toString('utf8')) as { ok: boolean; result?: T; error?: { code: string; message: string } };
      if (reply.ok) resolve(reply.result as T);
      else reject(new SnowmuxError(reply.error?.code !== undefined && isErrorCode(reply.error.code) ? reply.error.code : 'CONTROL_FAILED', reply.error?.message ?? 'The hub refused the request.'));
    });
    socket.on('data', onData);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.write(encodeLine({ id: 1, op }));
    if (rest.length > 0) onData(rest);
  });
}
