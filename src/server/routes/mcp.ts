import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyPluginAsync } from 'fastify';
import type { SessionsApi } from '../../api/sessions-api.js';
import { HearthError } from '../../errors/hearth-error.js';
import { createMcpServer } from '../../mcp/server.js';
import type { RlmService } from '../../rlm/service.js';

export interface McpRoutesOptions {
  /** The sessions the tools act on (the server's SessionService). */
  api: SessionsApi;
  /** With it, the rlm_* tools are served. @default none */
  rlm?: RlmService;
  /** @default '/mcp' */
  path?: string;
  /** The largest JSON-RPC request: a write_file carries the file, base64. @default 24 MiB */
  bodyLimit?: number;
}

/**
 * MCP over Streamable HTTP, stateless: each POST gets its own MCP server and transport, closed with
 * the response. Nothing of a client is kept between requests — its sessions are hearth's, found by
 * the id every tool takes. Auth and the browser guard are the app's hooks, as for every route.
 * Mount it in buildApp: `await app.register(mcpRoutes, { api: sessionService })`.
 */
export const mcpRoutes: FastifyPluginAsync<McpRoutesOptions> = async (app, o) => {
  const path = o.path ?? '/mcp';
  app.post(
    path,
    { bodyLimit: o.bodyLimit ?? 24 * 1024 * 1024, schema: { summary: 'MCP (Streamable HTTP, stateless)' } },
    async (req, reply) => {
      const server = createMcpServer(o.api, {
        onInternalError: (err) => req.log.error({ err }, 'MCP tool failed'),
        ...(o.rlm ? { rlm: o.rlm } : {}),
      });
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      reply.hijack();
      reply.raw.once('close', () => {
        void transport.close();
        void server.close();
      });
      try {
        await server.connect(transport);
        await transport.handleRequest(req.raw, reply.raw, req.body);
      } catch (err) {
        req.log.error({ err }, 'MCP request failed');
        if (!reply.raw.headersSent) {
          reply.raw.writeHead(500, { 'content-type': 'application/json' });
          reply.raw.end(
            JSON.stringify({ jsonrpc: '2.0', error: { code: -32603, message: 'internal error' }, id: null }),
          );
        } else reply.raw.destroy();
      }
    },
  );
  // Stateless: no stream of server-initiated messages (GET) and no MCP session to end (DELETE).
  const notAllowed = async () => {
    throw new HearthError('METHOD_NOT_ALLOWED', 'this MCP endpoint is stateless: POST JSON-RPC requests');
  };
  app.get(path, { schema: { hide: true } }, notAllowed);
  app.delete(path, { schema: { hide: true } }, notAllowed);
};
