/**
 * JSON texts of values that never change again, serialised once. The tool listing (~25 KB) is the same
 * for every session with the same tools; serialising and encoding it on every `tools/list` was ~50 µs of
 * the ~150 µs the hub spent per listing. A value is registered by whoever makes it and must not be
 * mutated afterwards (it is frozen here, shallowly, to make that a TypeError instead of a stale answer).
 */

const texts = new WeakMap<object, Buffer>();

/** Serialises `value` now; later answers carrying this very object reuse the text. */
export function serializeOnce<T extends object>(value: T): T {
  if (!texts.has(value)) texts.set(value, Buffer.from(JSON.stringify(value), 'utf8'));
  return Object.freeze(value);
}

/** The kept UTF-8 JSON of `value`, when it was registered. */
export function serializedText(value: unknown): Buffer | undefined {
  return typeof value === 'object' && value !== null ? texts.get(value) : undefined;
}

/**
 * A JSON-RPC message as one line, reusing the kept text of a result's registered members. Only a
 * response whose result holds a registered member takes this path; its form is the SDK's own
 * (`{"result":…,"jsonrpc":"2.0","id":ID}`), which the shim reads ids from without parsing.
 */
export function messageLine(message: object): Buffer | string {
  const { result, jsonrpc, id, ...rest } = message as { result?: unknown; jsonrpc?: unknown; id?: unknown };
  const plain = (): string => `${JSON.stringify(message)}\n`;
  if (result === null || typeof result !== 'object' || Array.isArray(result) || Object.keys(rest).length > 0) return plain();
  if (jsonrpc !== '2.0' || !(typeof id === 'string' || typeof id === 'number')) return plain();
  const parts: Buffer[] = [];
  let kept = false;
  for (const [key, value] of Object.entries(result)) {
    const text = serializedText(value) ?? JSON.stringify(value) as string | undefined;
    if (text === undefined) continue; // as JSON.stringify leaves out undefined and functions
    if (typeof text !== 'string') kept = true;
    parts.push(Buffer.from(`${parts.length === 0 ? '' : ','}${JSON.stringify(key)}:`, 'utf8'), typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
  }
  if (!kept) return plain();
  return Buffer.concat([OPEN, ...parts, Buffer.from(`},"jsonrpc":"2.0","id":${JSON.stringify(id)}}\n`, 'utf8')]);
}

const OPEN = Buffer.from('{"result":{', 'utf8');
