/**
 * The link handshake between a shim (or the status CLI) and the hub, and the link-control frames.
 * Link frames are single JSON lines whose first key is "snowmux"; JSON-RPC lines never start that way,
 * so both sides can tell them apart with a byte-prefix check and no JSON parse.
 */
import { snowmuxCommand, type HubPlace } from '../snowmux-command.js';
import { VERSION } from '../version.js';

/** Bumped when the framing or the handshake changes incompatibly. */
export const WIRE_VERSION = 1;
/** Oldest wire version this build still speaks. */
export const MIN_WIRE_VERSION = 1;

export type LinkRole = 'shim' | 'control';

export interface ParentInfo {
  pid: number;
  command?: string | undefined;
}

export interface Hello {
  snowmux: 'hello';
  wire: number;
  version: string;
  role: LinkRole;
  pid: number;
  parent?: ParentInfo | undefined;
  /** Profile the editor asked for (--profile / SNOWMUX_PROFILE). */
  profile?: string | undefined;
  /**
   * The config file the editor's shim was given (--config / SNOWMUX_CONFIG), absolute (local socket only):
   * a hub already running with another one keeps its own, and says so to that editor.
   */
  config?: string | undefined;
  /** SNOWFLAKE_* settings the shim was launched with (local socket only). */
  env?: Record<string, string> | undefined;
  /** Set when this connection re-creates a session after the link dropped. */
  resumeOf?: string | undefined;
  /** Optional link behaviours the sender understands (see LINK_CAPS); unknown ones are ignored. */
  caps?: string[] | undefined;
}

/**
 * `drain-ack`: on a `draining` frame the shim stops sending requests on that link and answers `drained`,
 * so the hub knows every request the shim sent has arrived and can close the link once they are answered.
 */
export const LINK_CAPS = ['drain-ack'] as const;

export interface Welcome {
  snowmux: 'welcome';
  wire: number;
  version: string;
  hubPid: number;
  sessionId: string;
}

export interface Refusal {
  snowmux: 'refused';
  code: string;
  message: string;
}

export interface Ping {
  snowmux: 'ping';
  n: number;
}

export interface Pong {
  snowmux: 'pong';
  n: number;
}

/**
 * The hub is going away (stop or replace). Calls already sent on this link still get their answers on it;
 * new calls belong on a new link (to the replacing hub, or one the shim starts).
 */
export interface Draining {
  snowmux: 'draining';
  reason: string;
}

/** Shim → hub after `draining`: nothing but pongs will follow on this link. */
export interface Drained {
  snowmux: 'drained';
}

/**
 * Hub → shim: the hub ends this session for what its client did (malformed input without end, answers
 * left unread). The link closes right after; calls still running on it get this reason, not "the hub
 * restarted".
 */
export interface Cut {
  snowmux: 'cut';
  reason: string;
}

export type LinkFrame = Hello | Welcome | Refusal | Ping | Pong | Draining | Drained | Cut;

const TAGS: ReadonlySet<string> = new Set(['hello', 'welcome', 'refused', 'ping', 'pong', 'draining', 'drained', 'cut']);

const PREFIX = Buffer.from('{"snowmux":');

export function isLinkFrame(line: Buffer): boolean {
  return line.length > PREFIX.length && line.compare(PREFIX, 0, PREFIX.length, 0, PREFIX.length) === 0;
}

export function parseLinkFrame(line: Buffer | string): LinkFrame | null {
  try {
    const value: unknown = JSON.parse(typeof line === 'string' ? line : line.toString('utf8'));
    if (value === null || typeof value !== 'object') return null;
    const tag = (value as { snowmux?: unknown }).snowmux;
    if (typeof tag === 'string' && TAGS.has(tag)) return value as LinkFrame;
    return null;
  } catch {
    return null;
  }
}

export function makeHello(fields: Omit<Hello, 'snowmux' | 'wire' | 'version'>): Hello {
  // Key order matters: "snowmux" first keeps the frame recognisable by prefix.
  return { snowmux: 'hello', wire: WIRE_VERSION, version: VERSION, ...fields };
}

const MAX_ENV_ENTRIES = 256;
const MAX_FIELD_CHARS = 64 * 1024;

function isShortString(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_FIELD_CHARS;
}

/**
 * What is wrong with a hello, field by field, or null. Everything the hub later reads from a hello is
 * checked here, so a malformed one is refused before any session exists (a session built from a wrongly
 * typed `env` or `caps` would otherwise fail later, and outlive its link).
 */
export function helloProblem(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'the hello is not an object';
  const h = value as Record<string, unknown>;
  if (!Number.isInteger(h.wire)) return '"wire" must be an integer';
  if (h.role !== 'shim' && h.role !== 'control') return '"role" must be "shim" or "control"';
  if (!Number.isInteger(h.pid) || (h.pid as number) < 0) return '"pid" must be a non-negative integer';
  if (h.version !== undefined && !isShortString(h.version)) return '"version" must be a string';
  if (h.parent !== undefined) {
    const p = h.parent as Record<string, unknown> | null;
    if (p === null || typeof p !== 'object' || Array.isArray(p)) return '"parent" must be an object';
    if (!Number.isInteger(p.pid)) return '"parent.pid" must be an integer';
    if (p.command !== undefined && !isShortString(p.command)) return '"parent.command" must be a string';
  }
  if (h.profile !== undefined && (!isShortString(h.profile) || h.profile.length === 0)) return '"profile" must be a non-empty string';
  if (h.config !== undefined && (!isShortString(h.config) || h.config.length === 0)) return '"config" must be a non-empty string';
  if (h.resumeOf !== undefined && !isShortString(h.resumeOf)) return '"resumeOf" must be a string';
  if (h.env !== undefined) {
    const env = h.env as Record<string, unknown> | null;
    if (env === null || typeof env !== 'object' || Array.isArray(env)) return '"env" must be an object of strings';
    const entries = Object.entries(env);
    if (entries.length > MAX_ENV_ENTRIES) return `"env" has more than ${MAX_ENV_ENTRIES} entries`;
    for (const [name, v] of entries) {
      if (!isShortString(v)) return `"env.${name.slice(0, 64)}" must be a string`;
    }
  }
  if (h.caps !== undefined) {
    if (!Array.isArray(h.caps) || h.caps.length > 64 || !h.caps.every((c) => isShortString(c))) return '"caps" must be an array of strings';
  }
  return null;
}

/**
 * An empty profile or config path is a setting, not a broken shim: older shims sent SNOWMUX_PROFILE="" or
 * SNOWMUX_CONFIG="" (an editor config's placeholder) as they were. Said plainly, with the fix.
 */
function emptySetting(hello: Hello, problem: string): string | null {
  if (problem.startsWith('"profile"') && hello.profile === '') return 'The shim asked for an empty profile name (SNOWMUX_PROFILE="" or --profile ""): name a profile, or leave the setting out to use the hub\'s default profile.';
  if (problem.startsWith('"config"') && hello.config === '') return 'The shim named an empty config file path (SNOWMUX_CONFIG="" or --config ""): name the file, or leave the setting out to use the hub\'s own.';
  return null;
}

/**
 * Checks a hello from a peer; returns a refusal to send back, or null when compatible. `hub`: where the hub
 * checking it runs, so the advice to replace it names that home (and config file).
 */
export function checkHello(hello: Hello, hub?: HubPlace): Refusal | null {
  const problem = helloProblem(hello);
  if (problem) {
    return { snowmux: 'refused', code: 'BAD_HELLO', message: emptySetting(hello, problem) ?? `Malformed snowmux hello: ${problem}. Use a shim from the same snowmux installation as the hub.` };
  }
  // The control protocol (status, stop, replace…) is plain JSON and only ever grows: a newer CLI may
  // still ask this hub for its status or to hand over to it (`hub --replace` across an upgrade).
  if (hello.role === 'control') return null;
  if (hello.wire < MIN_WIRE_VERSION) {
    return {
      snowmux: 'refused',
      code: 'SHIM_TOO_OLD',
      message: `This snowmux ${hello.version} shim speaks link version ${hello.wire}; the hub (snowmux ${VERSION}) needs ${MIN_WIRE_VERSION} or newer. Upgrade the snowmux your editor launches (the path in its MCP config: update that clone or install the newer tarball, as the README's Install says; snowmux is not on the npm registry), then restart the editor's MCP server.`,
    };
  }
  if (hello.wire > WIRE_VERSION) {
    return {
      snowmux: 'refused',
      code: 'HUB_TOO_OLD',
      message: `The running hub (snowmux ${VERSION}) is older than this shim (snowmux ${hello.version}). Run \`${hub ? snowmuxCommand('hub --replace', hub) : 'snowmux hub --replace'}\` to start the newer hub; editors stay connected.`,
    };
  }
  return null;
}
