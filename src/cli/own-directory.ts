/**
 * Directories snowmux creates or writes into outside its home, for files that run commands as the user (an
 * editor's MCP config names the command the editor starts; a service definition is what the service
 * manager runs): created closed to others whatever the umask (under umask 000 they were 0777, so any local
 * user could plant a systemd unit or swap an editor's config), and refused when another user could replace
 * what is written there.
 */
import { statSync, type Stats } from 'node:fs';
import { mkdirParentsSync } from '../mkdir-below.js';
import { shellWord } from '../shell-word.js';
import { pathTrust } from '../wire/file-trust.js';

/** `mkdir -p dir`, every level it creates 0700 (the umask can only narrow a mode, never widen it). */
export function mkdirPrivateSync(dir: string): void {
  mkdirParentsSync(dir, 0o700);
}

const WRITABLE_BY_OTHERS = 0o002;
const WRITABLE_BY_GROUP = 0o020;
const STICKY = 0o1000;

/** What stands in the way of writing into `dir`: `refuse` when another user could replace what is written there. */
export interface DirectoryRisk {
  refuse?: string;
  /** A group may write there (with a private group per user, as umask 002 gives, that is the user alone). */
  warn?: string;
}

/**
 * Whether another user could replace a file written in `dir`: every user may write it without the sticky
 * bit, it belongs to another user than us or root, or a directory on its way does either (pathTrust).
 * `what` names the file in the sentence ("Cursor's config"); the advice is a chmod when the directory is ours.
 */
export function directoryRisk(dir: string, what: string): DirectoryRisk {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid === undefined) return {};
  const st: Stats = statSync(dir);
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  if (st.uid !== uid && st.uid !== 0) {
    return { refuse: `${dir} belongs to another user (uid ${st.uid}), who could replace ${what} with their own commands, run as you. Use a directory of your own, or write the file by hand.` };
  }
  if ((st.mode & WRITABLE_BY_OTHERS) !== 0 && (st.mode & STICKY) === 0) {
    return { refuse: `${dir} may be written by other users (mode ${mode}), who could replace ${what} with their own commands, run as you. Close it (chmod o-w ${shellWord(dir)}), then run this again.` };
  }
  const onPath = pathTrust(dir, st, { what: `${dir} holds ${what}`, noun: what }, uid);
  if (onPath.refuse !== undefined) return { refuse: onPath.refuse };
  if ((st.mode & WRITABLE_BY_GROUP) !== 0) return { warn: `${dir} may be written by its group (gid ${st.gid}, mode ${mode}). Unless that group is you alone, run: chmod g-w ${shellWord(dir)}` };
  return {};
}
