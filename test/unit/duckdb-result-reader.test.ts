/**
 * The embedded warehouse's result reader (src/hub/warehouse/duckdb/result-reader.ts) against DuckDB itself:
 * a result is called whole (exhausted) only when its stream ended on its own. DuckDB answers an interrupted
 * fetch with an empty chunk, exactly like the end of the stream, so an interrupt must never read as the end.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DuckDBInstance, type DuckDBConnection, type DuckDBDataChunk, type DuckDBResult } from '@duckdb/node-api';
import { CallState } from '../../src/hub/warehouse/duckdb/call-scope.js';
import { readResult, type ReadLimits } from '../../src/hub/warehouse/duckdb/result-reader.js';

const ROWS = 100_000;
const CHUNK_ROWS = 2048;

let instance: DuckDBInstance;
let connection: DuckDBConnection;
before(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
});
after(() => {
  connection.closeSync();
  instance.closeSync();
});

function limits(extra: Partial<ReadLimits> = {}): ReadLimits {
  return { maxRows: 10, maxBytes: undefined, keepRows: 2 * ROWS, keepBytes: Number.MAX_SAFE_INTEGER, readAheadMs: 60_000, ...extra };
}

/**
 * A real streamed result whose fetches after the first wait for `gate` (so an interrupt lands before the
 * fetch, deterministically), and the chunks DuckDB answered them with.
 */
function gatedStream(result: DuckDBResult, gate: () => Promise<void>): { result: DuckDBResult; laterChunks: number[] } {
  const laterChunks: number[] = [];
  let fetches = 0;
  const gated = {
    columnTypes: () => result.columnTypes(),
    columnNames: () => result.columnNames(),
    fetchChunk: async (): Promise<DuckDBDataChunk | null> => {
      if (++fetches === 1) return await result.fetchChunk();
      // The reader's timers do not hold the process open (unref): this does, until the gate opens.
      const keepAlive = setInterval(() => {}, 60_000);
      try {
        await gate();
      } finally {
        clearInterval(keepAlive);
      }
      const chunk = await result.fetchChunk();
      laterChunks.push(chunk?.rowCount ?? 0);
      return chunk;
    },
  };
  return { result: gated as unknown as DuckDBResult, laterChunks };
}

/** The connection as the reader sees it, settling `interrupted` when the reader interrupts it. */
function watchedConnection(): { connection: DuckDBConnection; interrupted: Promise<void> } {
  let resolve: () => void = () => {};
  const interrupted = new Promise<void>((r) => {
    resolve = r;
  });
  const watched = {
    interrupt: () => {
      connection.interrupt();
      resolve();
    },
  };
  return { connection: watched as unknown as DuckDBConnection, interrupted };
}

test('a stream that ends on its own is whole, also after the answer was cut', async () => {
  const state = new CallState();
  try {
    const read = await readResult(connection, await connection.stream(`SELECT range AS i FROM range(${ROWS})`), state, limits());
    assert.deepEqual([read.rows.length, read.truncatedBy, read.kept.length, read.exhausted], [10, 'rows', ROWS, true]);
    assert.deepEqual(read.kept[ROWS - 1], [ROWS - 1]);
  } finally {
    state.dispose();
  }
});

test('the read-ahead\'s interrupt is not the end of the result: the rows read so far are kept, and it is not whole', async () => {
  const state = new CallState();
  const watched = watchedConnection();
  const stream = gatedStream(await connection.stream(`SELECT range AS i FROM range(${ROWS})`), () => watched.interrupted);
  try {
    const read = await readResult(watched.connection, stream.result, state, limits({ readAheadMs: 0 }));
    // DuckDB answered the interrupted fetch with an empty chunk, as the end of a stream looks.
    assert.deepEqual(stream.laterChunks, [0]);
    assert.deepEqual([read.rows.length, read.truncatedBy, read.kept.length], [10, 'rows', CHUNK_ROWS]);
    assert.equal(read.exhausted, false);
  } finally {
    state.dispose();
  }
});

test('a cancel\'s interrupt is not the end of the result either', async () => {
  const state = new CallState();
  // What CallTracker does on a cancel or timeout, here between the first chunk and the next.
  const stop = (): Promise<void> => {
    state.stopped = true;
    connection.interrupt();
    return Promise.resolve();
  };
  const stream = gatedStream(await connection.stream(`SELECT range AS i FROM range(${ROWS})`), stop);
  try {
    // maxRows above one chunk: the answer is not cut yet when the cancel lands.
    const read = await readResult(connection, stream.result, state, limits({ maxRows: 5000 }));
    assert.deepEqual(stream.laterChunks, [0]);
    assert.equal(read.truncatedBy, undefined);
    assert.equal(read.exhausted, false);
  } finally {
    state.dispose();
  }
});

test('what the result cache is given is plain JSON rows, the read-ahead too: no DuckDB chunk is held by a kept result', async () => {
  const state = new CallState();
  try {
    const read = await readResult(connection, await connection.stream(`SELECT range AS i, 'r' || range AS s FROM range(${ROWS})`), state, limits({ keepRows: 3 * CHUNK_ROWS }));
    assert.ok(Array.isArray(read.kept), 'an array of rows, not an object converting a chunk on demand');
    assert.equal(read.kept.length, 3 * CHUNK_ROWS);
    assert.ok(read.kept.every((row) => Array.isArray(row) && typeof row[0] === 'number' && typeof row[1] === 'string'));
    assert.deepEqual(read.kept[3 * CHUNK_ROWS - 1], [3 * CHUNK_ROWS - 1, `r${3 * CHUNK_ROWS - 1}`]);
    assert.equal(read.keptBytes, JSON.stringify(read.kept).length - 2 - (read.kept.length - 1), 'its JSON size, as read');
  } finally {
    state.dispose();
  }
});
