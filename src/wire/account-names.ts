/**
 * Who a uid or gid is, for messages about who could read or change a file: "its group staff (gid 50;
 * members alice, bob)" says whom to ask about, where "gid 50" made the user look it up. Read from
 * /etc/passwd and /etc/group, the local user database; accounts only a directory service knows (LDAP,
 * macOS's Directory Services) are given by number, as before. Node builtins only: the shim uses it.
 */
import { readFileSync } from 'node:fs';

/** The local database files are small; one far larger is not read (a message is not worth it). */
const MAX_DB_BYTES = 4 * 1024 * 1024;

function entries(path: string): string[][] {
  try {
    const text = readFileSync(path, 'utf8');
    if (text.length > MAX_DB_BYTES) return [];
    return text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).map((line) => line.split(':'));
  } catch {
    return [];
  }
}

/** "alice (uid 1001)", or "uid 1001" when the local user database does not name it. */
export function describeUser(uid: number, passwdPath = '/etc/passwd'): string {
  const entry = entries(passwdPath).find((f) => Number(f[2]) === uid && f[0]);
  return entry ? `${entry[0]} (uid ${uid})` : `uid ${uid}`;
}

export interface GroupAccount {
  /** The group's name, when the local user database has it. */
  name: string | undefined;
  /** Its members: those listed in the group, then the users whose primary group it is. */
  members: string[];
}

/** The group `gid` as the local user database knows it. */
export function groupAccount(gid: number, paths: { group?: string; passwd?: string } = {}): GroupAccount {
  const entry = entries(paths.group ?? '/etc/group').find((f) => Number(f[2]) === gid && f[0]);
  const listed = (entry?.[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean);
  const primary = entries(paths.passwd ?? '/etc/passwd').filter((f) => Number(f[3]) === gid && f[0]).map((f) => f[0]!);
  return { name: entry?.[0], members: [...new Set([...listed, ...primary])] };
}

/**
 * "group staff (gid 50; its members: alice, bob)" — the group named as the local database knows it, with
 * at most `maxMembers` members shown, or "group gid 50" when it is not there.
 */
export function describeGroup(gid: number, paths: { group?: string; passwd?: string } = {}, maxMembers = 8): string {
  const { name, members } = groupAccount(gid, paths);
  if (name === undefined) return `group gid ${gid}`;
  const shown = members.slice(0, maxMembers).join(', ');
  const more = members.length > maxMembers ? ` and ${members.length - maxMembers} more` : '';
  const who = members.length === 0 ? 'no member listed in /etc/group or /etc/passwd' : `its members: ${shown}${more}`;
  return `group ${name} (gid ${gid}; ${who})`;
}
