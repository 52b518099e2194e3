/**
 * A qemu session's memory snapshots: snapshot create, and restore → first command result, against
 * the template restore → agent ready of the same shape measured alternately with them (as
 * bench/qemu.ts measures it: the launch functions the backend restores its templates with), with
 * the two parts a template restore does not have (the SHA-256 check of the snapshot's files and
 * the first command after the restore); and pooled sessions against a pool checkout from the
 * backend.
 */
import { readdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { chooseAccel } from '../src/backends/qemu/accel.js';
import { type LaunchContext, restore } from '../src/backends/qemu/launch.js';
import { parseMemoryShapes, shapeFor } from '../src/backends/qemu/shapes.js';
import { ensureTemplate } from '../src/backends/qemu/template.js';
import { warmCommands } from '../src/backends/qemu/warm-up.js';
import { sha256OfFile } from '../src/backends/shared/snapshot-checks.js';
import { MemoryLedger } from '../src/host/ledger.js';
import { requireImage } from '../src/images/store.js';
import { ensureTools } from '../src/images/tools.js';
import { ensureVmArtefacts } from '../src/images/vm/artefacts.js';
import { ms, paired, pct, ratio, report, stats } from './lib.js';
import {
  COLD,
  createToFirst,
  IMAGE,
  rawCreateToFirst,
  type SessionHarness,
  sessionHarness,
} from './session-harness.js';

const G = 'sessions';
const SAMPLES = 3;

async function templateRestorer(h: SessionHarness): Promise<() => Promise<void>> {
  const paths = h.paths;
  const tools = await ensureTools({ paths });
  const artefacts = await ensureVmArtefacts({ image: requireImage(IMAGE, { paths }), tools, paths });
  const accel = await chooseAccel({
    paths,
    kernel: artefacts.kernel,
    initrd: artefacts.initramfs.path,
    shim: tools.shim,
  });
  const ctx: LaunchContext = { paths, ledger: new MemoryLedger(), artefacts, accel, shim: tools.shim };
  // The shape the sessions' sandboxes get, so the template is the one their backend restores.
  const shape = shapeFor({ image: IMAGE, ...COLD }, parseMemoryShapes(process.env.HEARTH_QEMU_MEMORY_MB));
  const t = await ensureTemplate(ctx, IMAGE, shape, { warm: warmCommands(IMAGE) });
  const files = { stateFile: t.stateFile, ...(t.memoryFile ? { memoryFile: t.memoryFile } : {}) };
  return async () => {
    const v = await restore(ctx, shape, files);
    await v.agent.close();
    await v.vm.destroy();
  };
}

export async function qemuSnapshots(h: SessionHarness): Promise<void> {
  const templateRestore = await templateRestorer(h);
  const s = await h.service.createSession({ backend: 'qemu', ...COLD });
  const create: number[] = [];
  const restored: number[] = [];
  const floor: number[] = [];
  const sizes: number[] = [];
  const hashed: number[] = [];
  const firstCommand: number[] = [];
  try {
    // Snapshot, template restore and snapshot restore alternate, so all three see the same load.
    for (let i = 0; i <= SAMPLES; i++) {
      await h.service.runCommand(s.id, { argv: ['sh', '-c', `echo ${i} > /tmp/mark`] });
      let t = performance.now();
      const snap = await h.service.createSnapshot(s.id, { kind: 'memory' });
      const createMs = performance.now() - t;
      // What the backend's check of the snapshot's files costs (it hashes them at create and restore).
      const dir = join(h.paths.snapshots, snap.id);
      t = performance.now();
      for (const f of await readdir(dir)) await sha256OfFile(join(dir, f));
      const hashMs = performance.now() - t;
      t = performance.now();
      await templateRestore();
      const floorMs = performance.now() - t;
      t = performance.now();
      await h.service.restoreSnapshot(s.id, snap.id);
      const restoredAt = performance.now();
      const r = await h.service.runCommand(s.id, { argv: ['cat', '/tmp/mark'] });
      const restoreMs = performance.now() - t;
      if (r.stdout.trim() !== String(i)) throw new Error(`restored the wrong state: ${r.stdout}`);
      await h.service.deleteSnapshot(snap.id);
      // The first round warms the page cache and QEMU's code: not counted.
      if (i === 0) continue;
      create.push(createMs);
      floor.push(floorMs);
      restored.push(restoreMs);
      sizes.push(snap.sizeBytes);
      hashed.push(hashMs);
      firstCommand.push(performance.now() - restoredAt);
    }
  } finally {
    await h.service.deleteSession(s.id);
  }
  const f = stats(floor);
  const c = stats(create);
  const r = stats(restored);
  const load = `load ${loadavg()[0]?.toFixed(1)}`;
  const mib = (stats(sizes).p50 / 1048576).toFixed(0);
  report({ group: G, name: 'qemu: floor: template restore → agent ready', value: pct(f), ratio: load });
  report({
    group: G,
    name: 'qemu: snapshot create (memory)',
    value: pct(c),
    ratio: `${ratio(c.p50, f.p50, 'template restore')}; ${mib} MiB on disk`,
  });
  report({
    group: G,
    name: 'qemu: snapshot restore → first command',
    value: pct(r),
    ratio: `${ratio(r.p50, f.p50, 'template restore (same run)')}; ${load}`,
    target: '≤ 2.00x template restore',
    met: r.p50 <= 2 * f.p50,
  });
  report({
    group: G,
    name: 'qemu: of which SHA-256 check / first command',
    value: `${ms(stats(hashed).p50)} / ${ms(stats(firstCommand).p50)}`,
    ratio: `${ratio(stats(hashed).p50, f.p50, 'template restore')} / ${ratio(stats(firstCommand).p50, f.p50, 'template restore')}`,
  });
}

/**
 * Pooled sessions with qemu's own pool on: each takes a restored, warmed VM. The floor is the same
 * checkout straight from the backend, alternated with it; each sample waits for the refill first.
 */
export async function qemuPooled(n: number, targetMs: number): Promise<void> {
  const h = await sessionHarness('qemu', { qemuPool: 1 });
  try {
    const checkout = async () => {
      await h.poolReady();
      return rawCreateToFirst(h, h.poolSpec);
    };
    const session = async () => {
      await h.poolReady();
      return createToFirst(h, 'qemu', {});
    };
    const [floor, warm] = await paired(n, checkout, session);
    report({ group: G, name: 'qemu: floor: pool checkout → true (no session)', value: pct(floor) });
    report({
      group: G,
      name: 'qemu: create → first command, pool warm',
      value: pct(warm),
      ratio: `${ratio(warm.p50, floor.p50, 'floor (pool checkout, paired)')}; load ${loadavg()[0]?.toFixed(1)}`,
      target: `≤ ${ms(targetMs)}`,
      met: warm.p50 <= targetMs,
    });
  } finally {
    await h.close();
  }
}
