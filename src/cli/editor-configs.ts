/**
 * Where each MCP client keeps its server list, in what shape, and how to merge a snowmux entry into it
 * without touching anything else. Used by `snowmux setup <client>`.
 *
 * The entry launches the shim with absolute paths (this Node, this package's bin): GUI editors often start
 * with a minimal PATH in which neither `node` nor `snowmux` is found.
 */
import { isAbsolute, join } from 'node:path';
import { applyEdits, modify, parse as parseJsonc, parseTree, printParseErrorCode, type Edit, type Node as JsonNode, type ParseError } from 'jsonc-parser';
import { shellWord } from '../shell-word.js';
import { SnowmuxError } from '../errors.js';
import { userHome, userHomeIfAny } from '../user-path.js';

export type ClientId = 'claude-desktop' | 'claude-code' | 'cursor' | 'vscode' | 'roo-code' | 'windsurf' | 'generic';

export interface ShimLaunch {
  command: string;
  args: string[];
}

interface ClientFacts {
  title: string;
  /** The key holding servers in the client's JSON file. */
  serversKey: 'mcpServers' | 'servers';
  /** The client's config file for this platform; undefined when the client has no file snowmux writes. */
  /** `home()`: the user's home directory, asked only when the file is under it (refused when there is none). */
  file(platform: NodeJS.Platform, env: NodeJS.ProcessEnv, home: () => string): string | undefined;
  /** The entry as this client wants it. */
  entry(launch: ShimLaunch): Record<string, unknown>;
  /** The client reads its file as JSONC (comments, trailing commas); the others need strict JSON. */
  jsonc?: boolean;
  note?: string;
}

function appData(platform: NodeJS.Platform, env: NodeJS.ProcessEnv, home: () => string): string {
  if (platform === 'darwin') return join(home(), 'Library', 'Application Support');
  // An empty (or, for XDG, relative) variable is as unset: joined to it, the file was read from the current directory.
  if (platform === 'win32') return env['APPDATA'] || join(home(), 'AppData', 'Roaming');
  const xdg = env['XDG_CONFIG_HOME'];
  return xdg && isAbsolute(xdg) ? xdg : join(home(), '.config');
}

const stdioEntry = (launch: ShimLaunch) => ({ command: launch.command, args: launch.args });

export const CLIENTS: Record<ClientId, ClientFacts> = {
  'claude-desktop': {
    title: 'Claude Desktop',
    serversKey: 'mcpServers',
    file: (p, env, home) => join(appData(p, env, home), 'Claude', 'claude_desktop_config.json'),
    entry: stdioEntry,
    note: 'Quit and reopen Claude Desktop to load it.',
  },
  'claude-code': {
    title: 'Claude Code',
    serversKey: 'mcpServers',
    // Claude Code owns its file (~/.claude.json); its own command adds the server.
    file: () => undefined,
    entry: stdioEntry,
  },
  cursor: {
    title: 'Cursor',
    serversKey: 'mcpServers',
    file: (_p, _env, home) => join(home(), '.cursor', 'mcp.json'),
    entry: stdioEntry,
    jsonc: true,
    note: 'Cursor picks the change up in Settings → MCP (toggle the server if it was already listed).',
  },
  vscode: {
    title: 'VS Code',
    serversKey: 'servers',
    file: (p, env, home) => join(appData(p, env, home), 'Code', 'User', 'mcp.json'),
    entry: (launch) => ({ type: 'stdio', command: launch.command, args: launch.args }),
    jsonc: true,
    note: 'For one workspace only, put the same "servers" entry in .vscode/mcp.json instead.',
  },
  'roo-code': {
    title: 'Roo Code',
    serversKey: 'mcpServers',
    file: (p, env, home) => join(appData(p, env, home), 'Code', 'User', 'globalStorage', 'rooveterinaryinc.roo-cline', 'settings', 'mcp_settings.json'),
    entry: (launch) => ({ command: launch.command, args: launch.args, disabled: false }),
    note: 'For one project only, put the same entry in .roo/mcp.json instead.',
  },
  windsurf: {
    title: 'Windsurf',
    serversKey: 'mcpServers',
    file: (_p, _env, home) => join(home(), '.codeium', 'windsurf', 'mcp_config.json'),
    entry: stdioEntry,
    jsonc: true,
    note: 'Press refresh in Windsurf\'s MCP panel to load it.',
  },
  generic: {
    title: 'any MCP client (stdio)',
    serversKey: 'mcpServers',
    file: () => undefined,
    entry: stdioEntry,
  },
};

export function isClientId(name: string): name is ClientId {
  return Object.hasOwn(CLIENTS, name);
}

/**
 * The client's config file. Under the home directory, it is taken as every snowmux path takes it
 * (user-path.ts): with no home directory at all it is refused, or with `shownOnly` (a file only named, not
 * written) given as "~/...".
 */
export function configFileFor(client: ClientId, platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env, shownOnly = false): string | undefined {
  const home = () => (shownOnly ? (userHomeIfAny(env) ?? '~') : userHome(`${CLIENTS[client].title}'s MCP config file`, 'paste the entry `snowmux setup` prints (without --write) into that file yourself', env));
  return CLIENTS[client].file(platform, env, home);
}

/** The JSON a user pastes (or `--write` merges): `{ "<serversKey>": { "<name>": entry } }`. */
export function snippetFor(client: ClientId, name: string, launch: ShimLaunch): Record<string, unknown> {
  const facts = CLIENTS[client];
  return { [facts.serversKey]: { [name]: facts.entry(launch) } };
}

/** The `claude mcp add` command line (options before the name, the launch after `--`). */
export function claudeCodeCommand(name: string, launch: ShimLaunch): string {
  return ['claude', 'mcp', 'add', '--transport', 'stdio', '--scope', 'user', name, '--', launch.command, ...launch.args].map(shellWord).join(' ');
}


/**
 * Merges the entry into a client's existing file text (undefined: no file yet). Everything else in the
 * file is kept as written — comments and trailing commas too where the client reads JSONC (VS Code's
 * mcp.json): the entry is edited in place, not the file re-serialised. A file its client could not read
 * (not JSON, or JSONC for a client that needs strict JSON), or not an object, is refused rather than
 * overwritten.
 */
/** The largest editor config `setup --write` rewrites (about 2,000 servers' entries). */
const MAX_CONFIG_CHARS = 256 * 1024;

/** Keys of an entry that say how the editor reaches the server: the shim's own replace them. */
const TRANSPORT_KEYS: ReadonlySet<string> = new Set(['command', 'args', 'type', 'transport', 'url', 'serverUrl', 'headers']);

/**
 * The shim's entry in place of `old`, keeping what is not about reaching the server: its `env` (a Python
 * server's SNOWFLAKE_* settings, which the shim passes to the hub; the migration guide says to keep it),
 * and the editor's own keys (auto-approval, timeouts, disabled). The names kept are reported, never values.
 */
function replacingEntry(old: unknown, entry: Record<string, unknown>): { merged: Record<string, unknown>; kept: string[] } {
  if (old === null || typeof old !== 'object' || Array.isArray(old)) return { merged: entry, kept: [] };
  const merged: Record<string, unknown> = {};
  const kept: string[] = [];
  // An entry the user switched off stays off: re-enabling it behind their back is not setup's call.
  const stayOff = (old as Record<string, unknown>)['disabled'] === true && Object.hasOwn(entry, 'disabled');
  for (const [key, value] of Object.entries(old as Record<string, unknown>)) {
    if (TRANSPORT_KEYS.has(key) || Object.hasOwn(entry, key)) continue;
    // An env that is not an object of strings would make the new entry one the editor refuses.
    if (key === 'env' && (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string'))) continue;
    merged[key] = value;
    kept.push(key === 'env' && value !== null && typeof value === 'object' ? `env (${Object.keys(value).join(', ') || 'empty'})` : key);
  }
  if (stayOff) kept.push('disabled (it stays switched off: turn it on in the editor to use it)');
  return { merged: { ...merged, ...entry, ...(stayOff ? { disabled: true } : {}) }, kept };
}

/** How many times `key` is a member of the object `node` (JSON allows it; JSON.parse keeps the last). */
function membersNamed(node: JsonNode | undefined, key: string): JsonNode[] {
  return (node?.type === 'object' ? node.children ?? [] : []).filter((member) => member.children?.[0]?.value === key);
}

/**
 * A server name (or the servers object) written twice: the edit would replace the first, and the editor,
 * which keeps the last, would go on launching the old server while setup said it was done.
 */
function duplicateMember(text: string, serversKey: string, name: string, file: string): SnowmuxError | undefined {
  const lists = membersNamed(parseTree(text), serversKey);
  const entries = membersNamed(lists.at(-1)?.children?.[1], name);
  const [what, count] = lists.length > 1 ? [`"${serversKey}"`, lists.length] : [`the server "${name}" in "${serversKey}"`, entries.length];
  if (count < 2) return undefined;
  return new SnowmuxError('INVALID_ARGUMENT', `${file} holds ${what} ${count} times; an editor uses only the last one, so snowmux will not guess which to replace. Merge them into one by hand, then run this again.`);
}

/** The file's own indentation and line ends, so the entry written into it looks like the rest of it. */
function formattingOf(text: string): { insertSpaces: boolean; tabSize: number; eol: string } {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const indent = /^([ \t]+)\S/m.exec(text)?.[1];
  if (indent?.startsWith('\t')) return { insertSpaces: false, tabSize: 1, eol };
  return { insertSpaces: true, tabSize: indent === undefined ? 2 : Math.min(8, indent.length), eol };
}

/**
 * A new server added as the line after the last one, its text untouched: jsonc-parser's formatted insert
 * re-indents the whole line it starts on, so the server before it (one written on a line) was spread over
 * several, a compact file re-laid-out, and a comment after that server's trailing comma (`}, // old one`)
 * moved to the new entry. Undefined when the last server does not end its own line as plain JSON(C) does
 * (then the formatted insert is used).
 */
function appendedOnOwnLine(text: string, serversKey: string, name: string, value: unknown, formatting: { insertSpaces: boolean; tabSize: number; eol: string }): Edit[] | undefined {
  const last = membersNamed(parseTree(text, undefined, { allowTrailingComma: true }), serversKey).at(-1)?.children?.[1]?.children?.at(-1);
  if (last === undefined) return undefined;
  const lineStart = Math.max(text.lastIndexOf('\n', last.offset - 1) + 1, 0);
  const indent = text.slice(lineStart, last.offset);
  const end = last.offset + last.length;
  const rest = /^([ \t]*)(,?)([ \t]*(?:\/\/[^\r\n]*)?)(?=\r?\n)/.exec(text.slice(end));
  if (!/^[ \t]*$/.test(indent) || rest === null) return undefined;
  const unit = formatting.insertSpaces ? ' '.repeat(formatting.tabSize) : '\t';
  const entry = `${JSON.stringify(name)}: ${JSON.stringify(value, null, unit).split('\n').join(`${formatting.eol}${indent}`)}`;
  const lineEnd = end + rest[0].length;
  // A trailing comma stays the file's style (it reads JSONC); else the comma goes after the server before.
  if (rest[2] === ',') return [{ offset: lineEnd, length: 0, content: `${formatting.eol}${indent}${entry},` }];
  return [{ offset: end, length: 0, content: ',' }, { offset: lineEnd, length: 0, content: `${formatting.eol}${indent}${entry}` }];
}

export function mergeIntoConfig(existing: string | undefined, client: ClientId, name: string, launch: ShimLaunch, file: string): { text: string; replaced: boolean; kept: string[] } {
  // A byte-order mark (Windows editors write one) is kept as it was, and not read as JSON.
  if (existing?.startsWith('\uFEFF')) {
    const merged = mergeIntoConfig(existing.slice(1), client, name, launch, file);
    return { ...merged, text: `\uFEFF${merged.text}` };
  }
  const facts = CLIENTS[client];
  const entry = facts.entry(launch);
  // Rewriting in place costs time growing faster than the file: no editor's MCP config is this large.
  if (existing !== undefined && existing.length > MAX_CONFIG_CHARS) {
    throw new SnowmuxError('INVALID_ARGUMENT', `${file} is ${existing.length} characters long, more than an editor's MCP config holds (${MAX_CONFIG_CHARS}); snowmux will not rewrite it. Add the entry by hand (run the command without --write to print it).`);
  }
  if (existing === undefined || existing.trim() === '') {
    return { text: `${JSON.stringify({ [facts.serversKey]: { [name]: entry } }, null, 2)}\n`, replaced: false, kept: [] };
  }
  const errors: ParseError[] = [];
  // A client that reads strict JSON would not load a file with a comment or a trailing comma, the entry
  // included: such a file is refused here too, not merged and reported as done.
  const strict = facts.jsonc !== true;
  const parsed: unknown = parseJsonc(existing, errors, { allowTrailingComma: !strict, disallowComments: strict });
  if (errors.length > 0) {
    const first = errors[0]!;
    const line = existing.slice(0, first.offset).split('\n').length;
    const kind = strict ? `valid JSON, which ${facts.title} needs` : 'valid JSON';
    throw new SnowmuxError(
      'INVALID_ARGUMENT',
      `${file} is not ${kind} (${printParseErrorCode(first.error)} on line ${line}); snowmux will not rewrite it. Add the entry by hand (run the command without --write to print it), or fix the file first.`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SnowmuxError('INVALID_ARGUMENT', `${file} does not hold a JSON object; snowmux will not rewrite it. Add the entry by hand.`);
  }
  const current = (parsed as Record<string, unknown>)[facts.serversKey];
  if (current !== undefined && (current === null || typeof current !== 'object' || Array.isArray(current))) {
    throw new SnowmuxError('INVALID_ARGUMENT', `"${facts.serversKey}" in ${file} is not an object; snowmux will not rewrite it. Fix the file first.`);
  }
  const duplicate = duplicateMember(existing, facts.serversKey, name, file);
  if (duplicate) throw duplicate;
  const replaced = current !== undefined && Object.hasOwn(current, name);
  const { merged, kept } = replaced ? replacingEntry((current as Record<string, unknown>)[name], entry) : { merged: entry, kept: [] };
  const formatting = formattingOf(existing);
  const appended = replaced ? undefined : appendedOnOwnLine(existing, facts.serversKey, name, merged, formatting);
  const readable = (edited: string) => {
    const problems: ParseError[] = [];
    parseJsonc(edited, problems, { allowTrailingComma: !strict, disallowComments: strict });
    return problems.length === 0;
  };
  // Appended by hand only when the file still reads as its editor reads it; else jsonc-parser's own edit.
  const text = appended !== undefined && readable(applyEdits(existing, appended)) ? applyEdits(existing, appended) : applyEdits(existing, modify(existing, [facts.serversKey, name], merged, { formattingOptions: formatting }));
  return { text: text.endsWith('\n') ? text : `${text}\n`, replaced, kept };
}
