/**
 * The HTTP peer for bench/hot-path.ts: the smallest Streamable HTTP MCP server — the SDK's own server and
 * transport (v1, stateless: a server per request, as its docs show), one `echo` tool, on node:http — for
 * mcp-remote and supergateway to stand in front of, as they would in front of a remote server. Prints
 * its URL on stdout.
 *
 *   node dist/bench/peer-http-echo-server.js
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const http = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    void (async () => {
      const server = new McpServer({ name: 'peer-http-echo', version: '1.0.0' }, { capabilities: { tools: {} } });
      server.registerTool('echo', { description: 'Returns its argument.', inputSchema: { text: z.string().describe('What to echo') } }, async ({ text }) => ({
        content: [{ type: 'text', text }],
      }));
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown) : undefined;
      await transport.handleRequest(req, res, body);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
});
http.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp\n`);
});
