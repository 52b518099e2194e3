/**
 * Snapshots and restore, one case list run on every usable backend (bwrap, gVisor, qemu) with real
 * sandboxes: files written before a snapshot are there after a restore and files written after are
 * not; the kind a backend does not keep is refused with a code; a record whose files are missing or
 * come from another build is refused before anything starts; a restore works from the record alone
 * (JSON, a new backend instance: a server restart). On qemu, a memory snapshot keeps an interpreter
 * context's variables, and two restores of one snapshot are separate machines.
 */
import {
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplClient } from '../src/agent/client-repl.js';
import type {
  BackendName,
  Sandbox,
  SandboxBackend,
  SandboxSpec,
  SnapshotInfo,
  SnapshotKind,
} from '../src/backends/backend.js';
import type { QemuBackend } from '../src/backends/qemu/qemu-backend.js';
import type { QemuSandbox } from '../src/backends/qemu/qemu-sandbox.js';
import { loadBackend } from '../src/backends/registry.js';
import { HearthError } from '../src/errors/hearth-error.js';
import { MemoryLedger } from '../src/host/ledger.js';
import { settledLeftovers } from './leak-check.js';

const SPEC: SandboxSpec = {
  image: 'default',
  memoryMb: 512,
  diskMb: 64,
  maxProcesses: 128,
  env: { HEARTH_SNAPSHOT_TEST: 'yes' },
  labels: { test: 'snapshots' },
};
const NATIVE: Record<Exclude<BackendName, 'firecracker'>, SnapshotKind> = {
  bwrap: 'filesystem',
  gvisor: 'filesystem',
  qemu: 'memory',
};
const OTHER: Record<SnapshotKind, SnapshotKind> = { memory: 'filesystem', filesystem: 'memory' };

/** Runs a shell line in the sandbox and returns its stdout; a non-zero exit fails the test. */
async function sh(sb: Sandbox, line: string): Promise<string> {
  const r = await sb.agent.run({ shell: line, limits: { timeoutMs: 60_000 } });
  expect(r.exitCode, r.stderr.toString()).toBe(0);
  return r.stdout.toString();
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; status: number; hint: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HearthError);
  const h = err as HearthError;
  return { code: h.code, status: h.status, hint: h.hint };
}

/** `backend.restore`, which every backend here has (the first case checks it). */
function restore(b: SandboxBackend, snap: SnapshotInfo, spec: SandboxSpec): Promise<Sandbox> {
  if (!b.restore) throw new Error(`${b.name} has no restore`);
  return b.restore(snap, spec);
}

const dirs: string[] = [];
function snapshotDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'hearth-snapshot-test-'));
  dirs.push(d);
  return d;
}

afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  expect(await settledLeftovers({ settleMs: 5000 })).toEqual([]);
});

for (const name of ['bwrap', 'gvisor', 'qemu'] as const) {
  const backend = await loadBackend(name, { ledger: new MemoryLedger() });
  const probe = await backend.probe();
  if (!probe.usable) {
    describe.skip(`snapshots on ${name} — skipped: ${probe.reason}`, () => it('backend is usable', () => {}));
    continue;
  }
  const kind = NATIVE[name];
  const live: Sandbox[] = [];
  const track = (sb: Sandbox): Sandbox => {
    live.push(sb);
    return sb;
  };
  // A second backend instance, as a restarted server would have, for restores from a stored record.
  let restarted: SandboxBackend | undefined;

  describe(`snapshots on ${name}`, () => {
    beforeAll(async () => {
      // Builds the VM template for this shape within the hook's budget (a cold boot under TCG).
      if (name === 'qemu') await (backend as QemuBackend).poolReady(SPEC.image, SPEC);
    }, 600_000);
    afterAll(async () => {
      await Promise.allSettled(live.map((sb) => sb.destroy()));
      await backend.close?.();
      await restarted?.close?.();
    }, 60_000);

    it(`reports ${kind} snapshots and can make and restore them`, () => {
      expect(backend.capabilities()).toContain(kind === 'memory' ? 'memory-snapshots' : 'fs-snapshots');
      expect(backend.capabilities()).not.toContain(kind === 'memory' ? 'fs-snapshots' : 'memory-snapshots');
      expect(typeof backend.restore).toBe('function');
    });

    it('a file written before the snapshot is there after restore; one written after is gone', async () => {
      const sb = track(await backend.create(SPEC));
      expect(typeof sb.snapshot).toBe('function');
      await sh(
        sb,
        'mkdir -p /work/d/e && echo kept > /work/d/e/before.txt && chmod 750 /work/d/e/before.txt' +
          ' && echo temp > /tmp/before-tmp.txt && ln -s /etc/passwd /work/link-out && ln -s ../.. /work/d/up',
      );
      const snap = await sb.snapshot?.({ dir: snapshotDir(), kind });
      if (!snap) throw new Error('no snapshot');
      expect(snap).toMatchObject({ kind, backend: name });
      expect(snap.sizeBytes).toBeGreaterThan(0);
      // The backend wrote its files into the given directory and nothing else there.
      expect(readdirSync(snap.dir).sort()).toEqual(
        kind === 'memory' ? ['vm.state'] : ['tmp.tar', 'work.tar'],
      );
      expect(Number.isNaN(Date.parse(snap.createdAt))).toBe(false);
      // The sandbox ran on: it takes new files after the snapshot.
      await sh(
        sb,
        'echo later > /work/after.txt && echo later > /tmp/after-tmp.txt && rm /work/d/e/before.txt',
      );

      // Restored from the record alone, through JSON, by another backend instance.
      restarted = await loadBackend(name, { ledger: new MemoryLedger() });
      const stored = JSON.parse(JSON.stringify(snap)) as SnapshotInfo;
      const copy = track(await restore(restarted, stored, SPEC));
      expect(copy.id).not.toBe(sb.id);
      expect(await sh(copy, 'cat /work/d/e/before.txt /tmp/before-tmp.txt')).toBe('kept\ntemp\n');
      // find, not stat or ls: gVisor refuses the statx flags coreutils uses.
      expect(await sh(copy, "find /work/d/e/before.txt -printf '%m\\n'")).toBe('750\n');
      expect(await sh(copy, 'readlink /work/link-out /work/d/up')).toBe('/etc/passwd\n../..\n');
      expect(await sh(copy, "find /work /tmp -name '*after*'")).toBe('');
      expect(await sh(copy, 'echo "$HEARTH_SNAPSHOT_TEST $HEARTH_SANDBOX_ID"')).toBe(`yes ${copy.id}\n`);
      // And the original still has what it wrote after the snapshot.
      expect(await sh(sb, 'cat /work/after.txt')).toBe('later\n');
      await copy.destroy();
      await sb.destroy();
    }, 300_000);

    it(`a ${OTHER[kind]} snapshot is refused with a code whose hint names the ${kind} kind`, async () => {
      const sb = track(await backend.create(SPEC));
      const dir = snapshotDir();
      const made = await codeOf(sb.snapshot?.({ dir, kind: OTHER[kind] }) ?? Promise.resolve());
      expect(made).toMatchObject({ code: 'SNAPSHOT_KIND_UNSUPPORTED', status: 409 });
      expect(made.hint).toContain(`"${kind}"`);
      const restored = await codeOf(
        restore(
          backend,
          { dir, kind: OTHER[kind], backend: name, sizeBytes: 0, createdAt: '', meta: {} },
          SPEC,
        ),
      );
      expect(restored).toMatchObject({ code: 'SNAPSHOT_KIND_UNSUPPORTED', status: 409 });
      await sb.destroy();
    }, 120_000);

    it('a snapshot whose files are missing, damaged or from another build is refused', async () => {
      const sb = track(await backend.create(SPEC));
      const snap = await sb.snapshot?.({ dir: snapshotDir(), kind });
      await sb.destroy();
      if (!snap) throw new Error('no snapshot');
      const otherBuild = { ...snap, meta: { ...snap.meta, format: 'from-another-build' } };
      expect(await codeOf(restore(backend, otherBuild, SPEC))).toMatchObject({
        code: 'SNAPSHOT_INCOMPATIBLE',
        status: 409,
      });
      if (name === 'qemu') {
        const otherKernel = { ...snap, meta: { ...snap.meta, artefactsKey: '0000000000000000' } };
        expect((await codeOf(restore(backend, otherKernel, SPEC))).code).toBe('SNAPSHOT_INCOMPATIBLE');
      }
      const damaged = { ...snap, dir: snapshotDir() };
      cpSync(snap.dir, damaged.dir, { recursive: true });
      const [first] = readdirSync(damaged.dir);
      unlinkSync(join(damaged.dir, first ?? 'none'));
      expect(await codeOf(restore(backend, damaged, SPEC))).toMatchObject({
        code: 'SNAPSHOT_MISSING',
        status: 410,
      });
      // A file cut short, its recorded size made to match: its SHA-256 no longer does, and the
      // restore fails with the same code, leaving nothing behind.
      const cut = { ...snap, dir: snapshotDir() };
      cpSync(snap.dir, cut.dir, { recursive: true });
      const [largest] = readdirSync(cut.dir)
        .map((f) => ({ f, size: statSync(join(cut.dir, f)).size }))
        .sort((x, y) => y.size - x.size);
      if (!largest) throw new Error('empty snapshot');
      truncateSync(join(cut.dir, largest.f), Math.floor(largest.size / 2));
      cut.sizeBytes -= largest.size - Math.floor(largest.size / 2);
      expect(await codeOf(restore(backend, cut, SPEC))).toMatchObject({
        code: 'SNAPSHOT_MISSING',
        status: 410,
      });
    }, 180_000);

    if (name !== 'qemu') return;

    it('keeps an interpreter context: x = 41, snapshot, x += 1, restore, print(x) → 41; two restores are separate machines', async () => {
      const sb = track(await backend.create(SPEC));
      const repl = new ReplClient(sb.agent);
      const ctx = await repl.createContext({ language: 'python' });
      await repl.runCode(ctx.contextId, 'x = 41');
      const snap = await sb.snapshot?.({ dir: snapshotDir(), kind: 'memory' });
      if (!snap) throw new Error('no snapshot');
      await repl.runCode(ctx.contextId, 'x += 1');
      expect((await repl.runCode(ctx.contextId, 'print(x)')).stdout.toString()).toBe('42\n');
      await sb.destroy();

      const a = track(await restore(backend, snap, SPEC));
      const b = track(await restore(backend, snap, SPEC));
      const ra = new ReplClient(a.agent);
      const rb = new ReplClient(b.agent);
      expect((await ra.runCode(ctx.contextId, 'print(x)')).stdout.toString()).toBe('41\n');
      await ra.runCode(ctx.contextId, 'x = 100');
      expect((await rb.runCode(ctx.contextId, 'print(x)')).stdout.toString()).toBe('41\n');
      expect((await ra.runCode(ctx.contextId, 'print(x)')).stdout.toString()).toBe('100\n');
      await sh(a, 'echo only-a > /work/a.txt');
      expect(await sh(b, "find /work -name 'a.txt'")).toBe('');
      // Each is its own machine: its own id, fresh entropy, the host's clock.
      expect(a.id).not.toBe(b.id);
      expect(await sh(a, 'echo $HEARTH_SANDBOX_ID')).toBe(`${a.id}\n`);
      const bytes = async (s: Sandbox) => sh(s, 'od -An -tx1 -N16 /dev/urandom');
      expect(await bytes(a)).not.toBe(await bytes(b));
      const clock = Number(await sh(b, 'date +%s'));
      expect(Math.abs(clock - Date.now() / 1000)).toBeLessThan(5);
      // The copies hold their RAM themselves: neither maps the template's RAM file, which a later
      // template build replaces.
      for (const s of [a, b]) {
        const pid = (s as QemuSandbox).vm.pid;
        expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).not.toContain('.cow.mem');
        expect(readFileSync(`/proc/${pid}/maps`, 'utf8')).not.toContain('.cow.mem');
      }
      await b.destroy();
      // A restored VM is snapshotted and restored in turn.
      const again = await a.snapshot?.({ dir: snapshotDir(), kind: 'memory' });
      if (!again) throw new Error('no snapshot');
      await a.destroy();
      const c = track(await restore(backend, again, SPEC));
      expect((await new ReplClient(c.agent).runCode(ctx.contextId, 'print(x)')).stdout.toString()).toBe(
        '100\n',
      );
      expect(await sh(c, 'cat /work/a.txt')).toBe('only-a\n');
      await c.destroy();
    }, 300_000);
  });
}
