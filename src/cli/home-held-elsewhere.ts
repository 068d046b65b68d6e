/**
 * No hub answers at this spelling of the home's socket, yet a live hub holds the home's claim (hub.pid): it
 * listens on a socket this spelling does not lead to (the home reached by another path, such as a bind
 * mount, or another $SNOWMUX_RUNTIME_BASE), or it is stuck. Every hub started from here refuses the same
 * home (one home, one hub), so editors launched with it get none: `status` and `doctor` say so, naming the
 * holder, instead of "not running; the first editor's shim starts one".
 */
import { join } from 'node:path';
import { HUB_CLAIM_FILE, servingHubPid } from '../wire/hub-claim.js';

export interface HeldElsewhere {
  pid: number;
  detail: string;
  fix: string;
}

export function homeHeldElsewhere(home: string, socketPath: string): HeldElsewhere | undefined {
  let pid: number | null;
  try {
    pid = servingHubPid(home);
  } catch {
    return undefined; // not a claim file: doctor's home checks and the next hub's start name it
  }
  if (pid === null) return undefined;
  return {
    pid,
    detail:
      `No hub answers at ${socketPath}, but hub pid ${pid} holds this home (${join(home, HUB_CLAIM_FILE)}): it listens on another socket ` +
      `(the home reached by another path, such as a bind mount, or another $SNOWMUX_RUNTIME_BASE), or it is stuck. ` +
      `A hub started from here refuses to serve the same home, so editors launched with this home get no hub.`,
    fix:
      `Stop that hub (kill ${pid}, or \`snowmux stop\` with the home spelled as it was started), then let the first editor start one here; ` +
      `give every editor, terminal and service the same home path and SNOWMUX_RUNTIME_BASE.`,
  };
}
