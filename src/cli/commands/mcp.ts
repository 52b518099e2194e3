import type { Command } from 'commander';
import type { SessionsApi } from '../../api/sessions-api.js';
import { serveStdio } from '../../mcp/stdio.js';
import type { RlmService } from '../../rlm/service.js';
import { SessionsClient } from '../../sdk/sessions-client.js';
import { openEmbeddedRlm } from '../embedded-rlm.js';

/** The sessions the MCP tools act on: the server at HEARTH_URL, else a service in this process. */
async function openSessions(): Promise<{ api: SessionsApi; rlm?: RlmService; close: () => Promise<void> }> {
  if (process.env.HEARTH_URL) {
    return { api: new SessionsClient({ requestTimeoutMs: 120_000 }), close: async () => {} };
  }
  // stdout carries the protocol: warnings go to stderr.
  const onWarning = (obj: object, msg: string) =>
    process.stderr.write(`hearth mcp: ${msg} ${JSON.stringify(obj)}\n`);
  const { sessions, rlm, close } = await openEmbeddedRlm({ onWarning, anyContextFile: false });
  return { api: sessions.api, rlm, close };
}

/** `hearth mcp`: the MCP server over stdio, for MCP clients that start it as a child process. */
export function registerMcp(program: Command): void {
  program
    .command('mcp')
    .description('Serve MCP over stdio: tools for sessions, code, commands, files and snapshots')
    .addHelpText(
      'after',
      '\nWith HEARTH_URL set, the tools act on that server; otherwise on sessions held by this process,\nwhich end when it exits. Over HTTP, `hearth serve` answers MCP at /mcp.',
    )
    .action(async () => {
      const { api, rlm, close } = await openSessions();
      const stop = new AbortController();
      process.once('SIGTERM', () => stop.abort());
      process.once('SIGINT', () => stop.abort());
      try {
        await serveStdio(api, {
          signal: stop.signal,
          ...(rlm ? { rlm } : {}),
          onInternalError: (err) => process.stderr.write(`hearth mcp: ${(err as Error)?.stack ?? err}\n`),
        });
      } finally {
        await close();
      }
    });
}
