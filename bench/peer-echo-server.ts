/**
 * The peer for bench/hot-path.ts: a raw SDK v2 server on stdio with one `echo` tool and nothing else
 * (no governance, no audit, no warehouse) — what the SDK itself costs per message.
 *
 *   node dist/bench/peer-echo-server.js
 */
import { McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';

const server = new McpServer({ name: 'peer-echo', version: '1.0.0' }, { capabilities: { tools: {} } });
server.registerTool(
  'echo',
  { description: 'Returns its argument.', inputSchema: z.object({ text: z.string().describe('What to echo') }) },
  async ({ text }) => ({ content: [{ type: 'text', text }] }),
);
await server.connect(new StdioServerTransport());
