import { hideApiKeys } from '../shown-text.js';

/** The streams a command writes to (tests pass their own). */
export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /**
   * Where a command writes what it must show whole: a new API key, the one time it is shown (`keys create`,
   * `keys rotate`). When main() runs a command, stdout and stderr hide every API key's secret (keysHidden);
   * this is its stdout as it was. Unset (a test's own streams), the key goes to stdout.
   */
  secretOut?: NodeJS.WritableStream;
}

/**
 * A stream that writes what it is given with the secret of every snowmux API key in it hidden
 * (`smx_<id>_[REDACTED]`), everything else of the stream (isTTY, columns, events) as it was. Any command
 * may print a value that holds a key (an argument typed in the wrong place, a path, an environment or
 * config value, a hub's answer, a log line): the streams hide it once, for every command and every path
 * of it, rather than each message its own way.
 */
export function keysHidden(stream: NodeJS.WritableStream): NodeJS.WritableStream {
  const shown = (chunk: unknown): unknown => {
    if (typeof chunk === 'string') return hideApiKeys(chunk);
    if (chunk instanceof Uint8Array) {
      const text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('utf8');
      return text.includes('smx_') ? hideApiKeys(text) : chunk;
    }
    return chunk;
  };
  return new Proxy(stream, {
    get(target, property) {
      if (property === 'write') return (chunk: unknown, ...rest: unknown[]) => (target.write as (...a: unknown[]) => boolean)(shown(chunk), ...rest);
      if (property === 'end') return (chunk?: unknown, ...rest: unknown[]) => (target.end as (...a: unknown[]) => unknown)(typeof chunk === 'function' || chunk === undefined ? chunk : shown(chunk), ...rest);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
