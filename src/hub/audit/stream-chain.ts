/**
 * Verifies the audit records a team hub's replicas shipped to a central stream (see team/audit-stream.ts):
 * per replica, every record's hash, seq continuity and the `prev` links between consecutive records.
 *
 * A stream is a copy, so two things are not tampering: its start may be trimmed (the first record seen of
 * a replica may have any seq), and a replica that could not reach the stream writes a `gap` entry saying
 * which seqs it did not ship (its own files have them). A record missing from the stream without such an
 * entry, a record whose content does not match its hash, or a broken link is tampering (or loss) and fails.
 */
import { computeRecordHash, GENESIS_HASH, recordShapeDefect } from './audit-record.js';

/** One stream entry as read: its id and its field/value pairs. */
export interface ShippedEntry {
  id: string;
  fields: Record<string, string>;
}

export interface StreamProblem {
  /** The stream entry the problem was found at. */
  id: string;
  seq?: number | undefined;
  kind: 'edited' | 'removed' | 'reordered' | 'chain_break' | 'bad_entry';
  message: string;
}

export interface ReplicaChain {
  replica: string;
  records: number;
  firstSeq?: number | undefined;
  lastSeq?: number | undefined;
  /** Seqs the replica said it could not ship (its own log has them). */
  gaps: { from: number; to: number; reason: string }[];
  problems: StreamProblem[];
  ok: boolean;
}

export interface StreamVerifyResult {
  ok: boolean;
  entries: number;
  replicas: ReplicaChain[];
  /** Entries that name no replica or are neither a record nor a gap. */
  problems: StreamProblem[];
}

interface ChainState {
  chain: ReplicaChain;
  /** The seq the next record should have; undefined before the first record (the stream may be trimmed). */
  expect?: number | undefined;
  /** Hash of the previous record when it was the seq right before `expect`. */
  prevHash?: string | undefined;
}

export function verifyShippedRecords(entries: readonly ShippedEntry[]): StreamVerifyResult {
  const chains = new Map<string, ChainState>();
  const loose: StreamProblem[] = [];
  for (const entry of entries) {
    const replica = entry.fields['replica'];
    if (replica === undefined) {
      loose.push({ id: entry.id, kind: 'bad_entry', message: `entry ${entry.id} names no replica` });
      continue;
    }
    let state = chains.get(replica);
    if (!state) {
      state = { chain: { replica, records: 0, gaps: [], problems: [], ok: true } };
      chains.set(replica, state);
    }
    if (entry.fields['gap'] !== undefined) acknowledgeGap(state, entry);
    else if (entry.fields['record'] !== undefined) checkRecord(state, entry);
    else state.chain.problems.push({ id: entry.id, kind: 'bad_entry', message: `entry ${entry.id} is neither a record nor a gap` });
  }
  const replicas = [...chains.values()].map(({ chain }) => ({ ...chain, ok: chain.problems.length === 0 }));
  // Nothing to check is no proof of anything (a misspelt key, shipping not turned on): a failure, as an
  // audit directory without records is to the file verifier, with --json as without.
  if (entries.length === 0) loose.push({ id: '', kind: 'removed', message: 'the stream holds no entries: nothing has been shipped to it (is [audit] redis_stream set on the replicas, and is this its key?)' });
  return { ok: loose.length === 0 && replicas.every((r) => r.ok), entries: entries.length, replicas, problems: loose };
}

function acknowledgeGap(state: ChainState, entry: ShippedEntry): void {
  const m = /^(\d+)-(\d+)$/.exec(entry.fields['gap'] ?? '');
  if (!m || Number(m[1]) > Number(m[2])) {
    state.chain.problems.push({ id: entry.id, kind: 'bad_entry', message: `entry ${entry.id}: gap "${entry.fields['gap']}" is not FROM-TO` });
    return;
  }
  const gap = { from: Number(m[1]), to: Number(m[2]), reason: entry.fields['reason'] ?? '' };
  state.chain.gaps.push(gap);
  // The records after the gap follow it; the link across it cannot be checked here (the files can).
  if (state.expect === undefined || (state.expect >= gap.from && state.expect <= gap.to + 1)) {
    state.expect = gap.to + 1;
    state.prevHash = undefined;
  }
}

function checkRecord(state: ChainState, entry: ShippedEntry): void {
  const { chain } = state;
  let record: Record<string, unknown> & { seq: number; hash: string; prev: string };
  try {
    const parsed: unknown = JSON.parse(entry.fields['record'] ?? '');
    const defect = recordShapeDefect(parsed);
    if (defect) throw new Error(defect);
    record = parsed as typeof record;
  } catch (err) {
    chain.problems.push({ id: entry.id, kind: 'bad_entry', message: `entry ${entry.id}: not an audit record (${(err as Error).message})` });
    return;
  }
  const seq = record.seq;
  const at = `replica ${chain.replica} seq ${seq} (entry ${entry.id})`;
  chain.records += 1;
  chain.firstSeq ??= seq;
  chain.lastSeq = seq;
  if (entry.fields['seq'] !== undefined && Number(entry.fields['seq']) !== seq) {
    chain.problems.push({ id: entry.id, seq, kind: 'edited', message: `${at}: the entry says seq ${entry.fields['seq']}` });
  }
  if (computeRecordHash(record) !== record.hash) {
    chain.problems.push({ id: entry.id, seq, kind: 'edited', message: `${at}: the record's content does not match its hash — it was edited after it was written` });
  } else if (JSON.stringify(record) !== entry.fields['record']) {
    // Shipped as the hub wrote it (JSON.stringify's text): a member given twice hashes as its last one, and a reader keeping the first reads another record (verify.ts).
    chain.problems.push({ id: entry.id, seq, kind: 'edited', message: `${at}: the record is not as the hub wrote it (a member given twice, or its text rewritten) — its hash matches one reading of it, but other tools may read it otherwise` });
  }
  if (state.expect === undefined) {
    // The first record seen: the stream may have been trimmed before it, unless it is the chain's first.
    if (seq === 1 && record.prev !== GENESIS_HASH) chain.problems.push({ id: entry.id, seq, kind: 'chain_break', message: `${at}: the first record does not start the chain` });
  } else if (seq > state.expect) {
    chain.problems.push({ id: entry.id, seq, kind: 'removed', message: `${at}: seq ${state.expect}–${seq - 1} missing from the stream, and no gap entry says the replica could not ship them` });
  } else if (seq < state.expect) {
    chain.problems.push({ id: entry.id, seq, kind: 'reordered', message: `${at}: seq ${seq} comes after seq ${state.expect - 1}` });
  } else if (state.prevHash !== undefined && record.prev !== state.prevHash) {
    chain.problems.push({ id: entry.id, seq, kind: 'chain_break', message: `${at}: prev does not match the hash of seq ${seq - 1}` });
  }
  state.expect = seq + 1;
  state.prevHash = record.hash;
}
