import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Session } from '../src/api/sessions.js';
import { settledLeftovers } from './leak-check.js';
import { startServe } from './serve-fixture.js';

// A real `hearth serve` child with live sessions, killed with SIGKILL, then started again on the
// same database: the new server ends the dead worker's leases at once, reaps its sandboxes and
// reports its sessions as dead.
describe('a server that crashes with live sessions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-sessions-crash-'));
  const env = {
    HEARTH_DB: join(dir, 'hearth.db'),
    HEARTH_RUN_DIR: join(dir, 'run'),
    HEARTH_STATE_DIR: dir,
    HEARTH_BACKEND: 'bwrap',
  };
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await exited;
      }
    }
    const owners = children.flatMap((c) => (c.pid === undefined ? [] : [c.pid]));
    const left = await settledLeftovers({ ownerPids: owners, runDir: env.HEARTH_RUN_DIR });
    rmSync(dir, { recursive: true, force: true });
    expect(left).toEqual([]);
  });

  it('frees their sandboxes at the next start and says they died', async () => {
    const first = await startServe(env, (c) => children.push(c));
    const made: Session[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${first.url}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ metadata: { n: String(i) } }),
      });
      expect(res.status).toBe(201);
      made.push((await res.json()) as Session);
    }
    const killed = new Promise((r) => first.child.once('exit', r));
    first.child.kill('SIGKILL');
    await killed;

    const second = await startServe(env, (c) => children.push(c));
    // Everything the first server held is gone, though its leases had not yet run out.
    expect(
      await settledLeftovers({ ownerPids: [first.child.pid as number], runDir: env.HEARTH_RUN_DIR }),
    ).toEqual([]);
    for (const s of made) {
      const now = (await (await fetch(`${second.url}/v1/sessions/${s.id}`)).json()) as Session;
      expect(now.state).toBe('dead');
      expect(now.error?.code).toBe('SANDBOX_LOST');
      const del = await fetch(`${second.url}/v1/sessions/${s.id}`, { method: 'DELETE' });
      expect(del.status).toBe(204);
    }
  });
});
