/**
 * Sessions on every usable backend (bwrap, gVisor, qemu), through the real SessionService over a
 * real SandboxManager and a real SQLite file: files before a snapshot come back on restore and files
 * after do not; the kind a backend lacks is refused with a code; a flood is capped and a program that
 * stops everything it can reach is ended by the host. On qemu, a memory snapshot keeps a Python
 * context's variables, a fork is a separate machine, and a paused session survives a restart of the
 * service (a new manager, a new store handle on the same file).
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/backends/registry.js';
import { hearthPaths } from '../src/config/paths.js';
import type { HearthError } from '../src/errors/hearth-error.js';
import { MemoryLedger } from '../src/host/ledger.js';
import { settledLeftovers } from './leak-check.js';
import { openSessionService } from './session-service-fixture.js';

const STOP_EVERYTHING = `echo before; sleep 0.5; for p in /proc/[0-9]*; do p=\${p#/proc/}; [ "$p" = "$$" ] || kill -STOP "$p" 2>/dev/null; done; sleep 1000`;
const dir = mkdtempSync(join(tmpdir(), 'hearth-sessions-backends-'));
const paths = { ...hearthPaths(), db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') };

const open = (backend: string) => openSessionService(paths, backend);

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return (err as HearthError | undefined)?.code ?? 'resolved';
}

afterAll(async () => {
  const left = readdirSync(paths.snapshots, { withFileTypes: true }).map((d) => d.name);
  rmSync(dir, { recursive: true, force: true });
  expect(left).toEqual([]);
  expect(await settledLeftovers({ settleMs: 5000 })).toEqual([]);
});

for (const name of ['bwrap', 'gvisor', 'qemu'] as const) {
  const probe = await (await loadBackend(name, { ledger: new MemoryLedger() })).probe();
  if (!probe.usable) {
    describe.skip(`sessions on ${name} — skipped: ${probe.reason}`, () => it('backend is usable', () => {}));
    continue;
  }
  const vm = name === 'qemu';

  describe(`sessions on ${name}`, () => {
    it(
      'a snapshot keeps the files written before it, a restore drops those written after; the other kind is refused',
      async () => {
        const svc = await open(name);
        try {
          const s = await svc.sessions.createSession({ image: 'default' });
          expect(s.backend).toBe(name);
          await svc.sessions.writeFile(s.id, '/tmp/before.txt', 'kept');
          const snap = await svc.sessions.createSnapshot(s.id, { name: 'one' });
          expect(snap.kind).toBe(vm ? 'memory' : 'filesystem');
          expect(
            await codeOf(svc.sessions.createSnapshot(s.id, { kind: vm ? 'filesystem' : 'memory' })),
          ).toBe('SNAPSHOT_KIND_UNSUPPORTED');
          await svc.sessions.writeFile(s.id, '/tmp/after.txt', 'dropped');
          await svc.sessions.restoreSnapshot(s.id, snap.id);
          expect((await svc.sessions.readFile(s.id, '/tmp/before.txt')).toString()).toBe('kept');
          expect(await codeOf(svc.sessions.statFile(s.id, '/tmp/after.txt'))).toBe('FILE_NOT_FOUND');
          await svc.sessions.deleteSession(s.id);
        } finally {
          await svc.close();
        }
      },
      vm ? 600_000 : 60_000,
    );

    it(
      'an exec that floods its output or stops everything it can reach is cut by the host',
      async () => {
        const svc = await open(name);
        try {
          const s = await svc.sessions.createSession({ image: 'default' });
          const flood = await svc.sessions.runCommand(s.id, { cmd: 'yes hearth', timeoutMs: 20_000 });
          expect(flood.truncated).toBe(true);
          expect(flood.stdout.length).toBeLessThanOrEqual(svc.sessions.config.maxOutputBytes);
          // The program stops every process it may signal (the agent too where it can): the host's
          // deadline ends the exec, and if the agent is stopped, the sandbox with it (the session dies).
          const stuck = await svc.sessions
            .runCommand(s.id, { cmd: STOP_EVERYTHING, timeoutMs: vm ? 3000 : 1500 })
            .then(
              (r) => ({ timedOut: r.timedOut, stdout: r.stdout }),
              (e: HearthError) => ({ code: e.code }),
            );
          if ('code' in stuck) expect(['AGENT_TIMEOUT', 'SANDBOX_LOST']).toContain(stuck.code);
          else expect(stuck).toEqual({ timedOut: true, stdout: 'before\n' });
          const after = await svc.sessions.getSession(s.id);
          expect(['running', 'dead']).toContain(after.state);
          await svc.sessions.deleteSession(s.id);
        } finally {
          await svc.close();
        }
      },
      vm ? 600_000 : 120_000,
    );

    // Only VM backends keep memory; on the others the memory kind is refused (the first case).
    if (vm)
      it('memory snapshots keep interpreter variables; a fork is separate; a paused session resumes after a restart', async () => {
        let svc = await open(name);
        try {
          const s = await svc.sessions.createSession({ image: 'default' });
          expect(s.capabilities).toEqual(expect.arrayContaining(['memory-snapshots', 'pause']));
          await svc.sessions.runCode(s.id, { code: 'x = 41' });
          const snap = await svc.sessions.createSnapshot(s.id, { name: 'x41' });
          await svc.sessions.runCode(s.id, { code: 'x += 1' });
          await svc.sessions.restoreSnapshot(s.id, snap.id);
          expect((await svc.sessions.runCode(s.id, { code: 'print(x)' })).stdout).toBe('41\n');

          const fork = await svc.sessions.forkSnapshot(snap.id);
          expect((await svc.sessions.runCode(fork.id, { code: 'x' })).result?.text).toBe('41');
          await svc.sessions.runCode(fork.id, { code: 'x = 7' });
          expect((await svc.sessions.runCode(s.id, { code: 'x' })).result?.text).toBe('41');
          expect((await svc.sessions.runCode(fork.id, { code: 'x' })).result?.text).toBe('7');
          await svc.sessions.deleteSession(fork.id);

          await svc.sessions.runCode(s.id, { code: 'y = [x, "kept"]' });
          const paused = await svc.sessions.pauseSession(s.id);
          expect(paused.error ?? null).toBeNull();
          expect(paused.state).toBe('paused');
          await svc.close();

          svc = await open(name);
          const reopened = await svc.sessions.getSession(s.id);
          expect(reopened.error ?? null).toBeNull();
          expect(reopened.state).toBe('paused');
          const resumed = await svc.sessions.resumeSession(s.id);
          expect(resumed.state).toBe('running');
          expect((await svc.sessions.runCode(s.id, { code: 'y' })).result?.text).toBe("[41, 'kept']");
          await svc.sessions.deleteSession(s.id);
        } finally {
          await svc.close();
        }
      }, 900_000);
  });
}
