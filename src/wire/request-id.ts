/**
 * Which JSON-RPC ids the hub takes, shared by the hub and the shim so both treat a request alike: the shim
 * must not keep in flight a request the hub refuses and answers under null (it stayed "in flight" for ever,
 * kept the shim alive after stdin ended, and was sent again to every next hub).
 */

/** What the hub (the MCP SDK) takes as a request id or progress token: a string or a safe integer. */
export function isRequestId(v: unknown): v is string | number {
  return typeof v === 'string' || Number.isSafeInteger(v);
}

/**
 * Whether an answer can carry `id` back as the client wrote it. An integer past 2^53 may have been rounded
 * by JSON.parse (9007199254740993 came back as …992, which its client could not match): then the answer
 * goes under null, as JSON-RPC says for an id that cannot be read.
 */
export function idAsSent(line: Buffer, id: string | number): boolean {
  return typeof id === 'string' || Number.isSafeInteger(id) || !Number.isInteger(id) || line.includes(JSON.stringify(id));
}
