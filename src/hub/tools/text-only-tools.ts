/**
 * For roles with `result_form = "text"`: every tool this server registers is offered without an output
 * schema and answers with its text alone. The protocol requires structured content from a tool that
 * declares an output schema, so a text-only answer needs a listing without them; clients that bill both
 * forms then pay once, for the table they read. Must run before any tool is registered.
 */
import type { McpServer } from '@modelcontextprotocol/server';

export function offerTextOnly(server: McpServer): void {
  const register = server.registerTool.bind(server);
  const textOnly = ((name: string, config: { outputSchema?: unknown }, handler: (...args: unknown[]) => Promise<{ structuredContent?: unknown }>) =>
    register(name, { ...config, outputSchema: undefined } as never, (async (...args: unknown[]) => {
      const { structuredContent: _dropped, ...text } = await handler(...args);
      return text;
    }) as never)) as unknown as McpServer['registerTool'];
  server.registerTool = textOnly;
}
