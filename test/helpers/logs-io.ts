/** What the `snowmux logs` tests share: a home of their own and an io that keeps what the command prints. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A home of its own: the harness's would read the whole log to find hubs to end, and none starts here. */
export function logHome(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'snowmux-logs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** stdout kept (out()), stderr dropped. */
export function capture(): { io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }; out: () => string } {
  let out = '';
  const sink = { write: (s: string) => ((out += s), true) } as unknown as NodeJS.WritableStream;
  return { io: { stdout: sink, stderr: { write: () => true } as unknown as NodeJS.WritableStream }, out: () => out };
}
