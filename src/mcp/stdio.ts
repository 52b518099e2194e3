import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { SessionsApi } from '../api/sessions-api.js';
import { createMcpServer, type McpServerOptions } from './server.js';

/**
 * Serves MCP over this process's stdin and stdout until stdin ends (the client went away) or
 * `signal` aborts. Nothing else may write to stdout meanwhile: it carries the protocol.
 */
export async function serveStdio(
  api: SessionsApi,
  o: McpServerOptions & { signal?: AbortSignal } = {},
): Promise<void> {
  const server = createMcpServer(api, o);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    server.onclose = resolve;
  });
  // The transport does not watch for the end of its input; a client that exits must end us.
  const end = () => void server.close();
  process.stdin.once('end', end);
  process.stdin.once('close', end);
  o.signal?.addEventListener('abort', end, { once: true });
  try {
    await server.connect(transport);
    await closed;
  } finally {
    process.stdin.off('end', end);
    process.stdin.off('close', end);
    o.signal?.removeEventListener('abort', end);
  }
}
