/**
 * Tool schemas built once per process and shape, not per MCP server instance: the HTTP face builds a
 * server per request (the SDK's per-request factory), and constructing zod schemas was most of that cost
 * (~1 ms per server). Keys name the tool and whatever the schema depends on (the hub's limits, a team
 * tool's definition).
 */
const schemas = new Map<string, unknown>();

export function cachedSchema<T>(key: string, build: () => T): T {
  let found = schemas.get(key) as T | undefined;
  if (found === undefined) {
    found = build();
    schemas.set(key, found);
  }
  return found;
}
