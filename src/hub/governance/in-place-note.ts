/**
 * A note of fixed size in the hub's home (result-owners.unwritten, quota-usage.unwritten): what a process could not
 * write to its journal or state file (a full disk, EIO), for the next start to say. Made its full size at start, while
 * there is room, and then only overwritten in place, so a full disk does not refuse it. A file of the hub's own, as the
 * state it notes about (own-file.ts); best effort: a note that cannot be made or trusted leaves the running process's
 * own warning only.
 */
import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { ownFileProblem } from './own-file.js';

const NOTE_BYTES = 256;
const OPEN_FLAGS = constants.O_NOFOLLOW | (constants.O_NONBLOCK ?? 0);

/**
 * Reads what the previous process left in the note and leaves `next(text)` there in its place (NOTE_BYTES long,
 * fsynced). Returns the text read; undefined when the note cannot be made, read or trusted.
 * `writes` ends ownFileProblem's sentence ("who could write <writes> in it").
 */
export function takeInPlaceNote(path: string, writes: string, next: (text: string) => object): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | OPEN_FLAGS, 0o600);
  } catch {
    return undefined;
  }
  try {
    const stat = fstatSync(fd);
    if (ownFileProblem(stat, writes) !== undefined) return undefined;
    const buffer = Buffer.alloc(NOTE_BYTES * 2);
    const read = readSync(fd, buffer, 0, buffer.length, 0);
    const text = buffer.toString('utf8', 0, read);
    const content = encodeNote(next(text));
    if (stat.size !== NOTE_BYTES || !content.equals(buffer.subarray(0, read))) {
      writeSync(fd, content, 0, NOTE_BYTES, 0);
      fsyncSync(fd);
    }
    return text;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Overwrites the note in place (no new block needed on a full disk); nothing when it was not made at start. */
export function writeInPlaceNote(path: string, writes: string, state: object): void {
  try {
    const fd = openSync(path, constants.O_WRONLY | OPEN_FLAGS);
    try {
      if (ownFileProblem(fstatSync(fd), writes) !== undefined) return;
      writeSync(fd, encodeNote(state), 0, NOTE_BYTES, 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // The running process's own warning (status, hub.log) is then all there is.
  }
}

/** The note's JSON (its string values cut to 100 characters), padded with spaces to NOTE_BYTES, ending in a newline. */
function encodeNote(state: object): Buffer {
  const cut = Object.fromEntries(Object.entries(state).map(([k, v]) => [k, typeof v === 'string' ? v.slice(0, 100) : v]));
  const buf = Buffer.alloc(NOTE_BYTES, 0x20);
  buf.write(JSON.stringify(cut), 0, NOTE_BYTES - 1, 'utf8');
  buf[NOTE_BYTES - 1] = 0x0a;
  return buf;
}
