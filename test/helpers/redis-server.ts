/** A real redis-server on an ephemeral port for team hub tests (Debian package redis-server; .ci/run installs it). */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { defer, type Cleanup } from './harness.js';

/**
 * Starts redis-server on `port` (no persistence; `extraArgs` such as `--requirepass PW`), killed when the
 * test ends; resolves once it accepts connections.
 */
export async function startRedis(t: Cleanup, port: number, dir: string, extraArgs: string[] = []): Promise<ChildProcess> {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], { stdio: ['ignore', 'pipe', 'ignore'] });
  defer(t, async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await once(proc, 'exit');
    }
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (/Ready to accept connections/.test(out)) resolve();
    });
    proc.once('exit', () => reject(new Error(`redis-server exited:\n${out}`)));
  });
  return proc;
}
