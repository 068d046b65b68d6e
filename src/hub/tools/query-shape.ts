/** The shape every query tool answers in: its output schema, its limit argument, and the result it builds. */
import * as z from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { QueryResult } from '../warehouse/types.js';
import { queryStructured, queryText, truncationNotice } from './result-format.js';
import type { HubLimits } from '../pipeline/hub-limits.js';

export const queryOutput = z.object({
  columns: z.array(z.object({ name: z.string(), type: z.string() })),
  rows: z.array(z.array(z.unknown())),
  row_count: z.number(),
  truncated: z.boolean(),
  query_id: z.string().nullable(),
  notice: z.string().nullable(),
});

export function limitArg(limits: HubLimits) {
  return z
    .number()
    .int()
    .min(1)
    .max(limits.maxRowsCeiling)
    .optional()
    .describe(`Maximum rows to return (default ${limits.defaultMaxRows}, at most ${limits.maxRowsCeiling}). Larger results are truncated with a notice.`);
}

export function queryResult(result: QueryResult, limits: HubLimits, maxRows: number, offset = 0): CallToolResult {
  const notice = truncationNotice(result, { maxRows, maxBytes: limits.maxResultBytes }, offset);
  return {
    content: [{ type: 'text', text: queryText(result, notice) }],
    structuredContent: queryStructured(result, notice),
  };
}
