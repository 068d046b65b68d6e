/**
 * Talks to a running hub over the control protocol (status, stop, replace).
 */
import { SnowmuxError, isSnowmuxError } from '../errors.js';
import { snowmuxCommand } from '../snowmux-command.js';
import { isErrorCode } from '../error-codes.js';
import { LineDecoder, encodeLine } from '../wire/framing.js';
import { makeHello } from '../wire/hello.js';
import { isNoHub, openLink } from '../shim/hub-link.js';
import { servingHubPid } from '../wire/hub-claim.js';
import { processStopped } from '../wire/process-alive.js';

/**
 * `home`: the hub's home, which every command this advises names (`snowmux hub` or `snowmux hub --replace`
 * alone acts on ~/.snowmux): required, so no caller can leave it out.
 */
/** The home's hub when it is a stopped process (it cannot answer, and replacing it waits on it), else null. */
function stoppedHub(home: string): number | null {
  let pid: number | null;
  try {
    pid = servingHubPid(home);
  } catch {
    return null;
  }
  return pid !== null && processStopped(pid) === true ? pid : null;
}

export async function controlRequest<T = unknown>(socketPath: string, op: string, timeoutMs: number | undefined, home: string): Promise<T> {
  const waitMs = timeoutMs ?? 5_000;
  let link;
  try {
    link = await openLink(socketPath, makeHello({ role: 'control', pid: process.pid }), waitMs, home);
  } catch (err) {
    if (isNoHub(err)) {
      throw new SnowmuxError('HUB_NOT_RUNNING', `No snowmux hub is running at ${socketPath}. Start one with \`${snowmuxCommand('hub', home)}\` (editors' shims start one automatically).`);
    }
    // The link's own message speaks for a shim ("the shim keeps trying"); a command gives up here.
    if (isSnowmuxError(err, 'HUB_NO_WELCOME')) {
      const stopped = stoppedHub(home);
      if (stopped !== null) {
        throw new SnowmuxError('HUB_NO_WELCOME', `The hub at ${socketPath} (pid ${stopped}) is stopped (SIGSTOP, Ctrl-Z or a debugger), so it answers nothing until it is resumed. Resume it with \`kill -CONT ${stopped}\`, or end it with \`kill -KILL ${stopped}\` (editors' shims then start a new hub; \`${snowmuxCommand('hub', home)}\` does too).`, { cause: err });
      }
      throw new SnowmuxError('HUB_NO_WELCOME', `The hub at ${socketPath} accepted the connection but did not answer the handshake within ${waitMs} ms: it is frozen (stopped, or the machine is resuming) or overloaded. \`${snowmuxCommand('hub --replace', home)}\` starts a new hub in its place (editors move to it; the frozen one exits when it resumes).`, { cause: err });
    }
    throw err;
  }
  const { socket, rest } = link;
  return new Promise<T>((resolve, reject) => {
    const decoder = new LineDecoder(64 * 1024 * 1024);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SnowmuxError('HUB_NO_ANSWER', `The hub did not answer "${op}" within ${waitMs} ms. It may be overloaded or frozen.`));
    }, waitMs);
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
