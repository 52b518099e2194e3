import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionsClient } from '../src/sdk/sessions-client.js';
import { settledLeftovers } from './leak-check.js';
import { startServe } from './serve-fixture.js';

/** A real `hearth serve --port 0` on bwrap with a token, for the SDK, MCP and CLI session tests. */
export interface SessionServer {
  url: string;
  token: string;
  /** An SDK client with the token. */
  client: SessionsClient;
  /** Every hearth process the test started (the server, CLI and MCP children): the leak check's owners. */
  owners: number[];
  /** Ends what sessions are left, stops the server; returns what the owners left on the host. */
  close(): Promise<string[]>;
}

export async function startSessionServer(env: NodeJS.ProcessEnv = {}): Promise<SessionServer> {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-sessions-'));
  const token = `t-${process.pid}-${Date.now()}`;
  const owners: number[] = [];
  const { child, url } = await startServe(
    { HEARTH_DB: join(dir, 'hearth.db'), HEARTH_BACKEND: 'bwrap', HEARTH_TOKENS: token, ...env },
    (c) => {
      if (c.pid !== undefined) owners.push(c.pid);
    },
  );
  const client = new SessionsClient({ baseUrl: url, token });
  return {
    url,
    token,
    client,
    owners,
    async close() {
      // A test that failed half-way may leave sessions: end them, so the server frees their sandboxes.
      for (const s of await client.listSessions().catch(() => [])) {
        if (s.state !== 'ended') await client.deleteSession(s.id).catch(() => {});
      }
      await stop(child);
      rmSync(dir, { recursive: true, force: true });
      return settledLeftovers({ ownerPids: [process.pid, ...owners] });
    },
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}
