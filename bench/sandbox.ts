/**
 * Sandbox start-up and exec costs per usable backend (bwrap, gvisor): create → first result,
 * runOnce → result, exec round trip in a live sandbox — as ratios against floors measured in the
 * same run: bare bwrap running `true` and `python3 -c`, `runsc do true`, and host `python3 -c`.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import type { SandboxBackend } from '../src/backends/backend.js';
import { loadBackend } from '../src/backends/registry.js';
import { requireImage } from '../src/images/store.js';
import { bareBwrap, ms, paired, pct, ratio, report, type Stats, sample, stats } from './lib.js';

const run = promisify(execFile);
const PY = 'print(1)';
const spec = { image: 'default', memoryMb: 512 };

interface Floors {
  rootfs: string;
  hostTrue: Stats;
  bwrapTrue: Stats;
  bwrapPython: Stats;
  hostPython: Stats;
  runscTrue?: Stats;
}

async function floors(rootfs: string, withRunsc: boolean): Promise<Floors> {
  const f: Floors = {
    rootfs,
    hostTrue: await sample(50, () => run('true'), 5),
    bwrapTrue: await sample(30, () => run('bwrap', bareBwrap(rootfs, ['true'])), 3),
    bwrapPython: await sample(30, () => run('bwrap', bareBwrap(rootfs, ['python3', '-c', 'pass'])), 3),
    // The system interpreter, the same Python the images carry (a PATH lookup may find a version manager's shim).
    hostPython: await sample(
      30,
      () => run(existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3', ['-c', 'pass']),
      3,
    ),
  };
  if (withRunsc)
    f.runscTrue = await sample(10, () => run('runsc', ['--rootless', '--network=none', 'do', 'true']), 1);
  report({ group: 'sandbox', name: 'floor: host spawn of true (from Node)', value: pct(f.hostTrue) });
  report({ group: 'sandbox', name: 'floor: bare bwrap true', value: pct(f.bwrapTrue) });
  report({ group: 'sandbox', name: 'floor: bare bwrap + python3 -c pass', value: pct(f.bwrapPython) });
  report({ group: 'sandbox', name: 'floor: host python3 -c pass', value: pct(f.hostPython) });
  if (f.runscTrue) report({ group: 'sandbox', name: 'floor: runsc do true', value: pct(f.runscTrue) });
  return f;
}

/** One create → first result, in ms; the destroy that follows is awaited but not counted. */
async function createToResult(backend: SandboxBackend): Promise<number> {
  const started = performance.now();
  const sb = await backend.create(spec);
  try {
    const r = await sb.agent.run({ argv: ['python3', '-c', PY] });
    if (r.stdout.toString() !== '1\n') throw new Error(`unexpected output ${r.stdout.toString()}`);
    return performance.now() - started;
  } finally {
    await sb.destroy();
  }
}

async function execRoundTrip(backend: SandboxBackend, n: number): Promise<Stats> {
  const sb = await backend.create(spec);
  try {
    return await sample(n, () => sb.agent.run({ argv: ['true'] }), 5);
  } finally {
    await sb.destroy();
  }
}

async function benchBackend(name: 'bwrap' | 'gvisor', f: Floors): Promise<void> {
  const backend = await loadBackend(name);
  const probe = await backend.probe();
  if (!probe.usable) {
    report({ group: 'sandbox', name: `${name}: skipped`, value: probe.reason });
    return;
  }
  try {
    if (name === 'bwrap') {
      const floorRun = () => run('bwrap', bareBwrap(f.rootfs, ['python3', '-c', 'pass']));
      const [floorA, create] = await paired(20, floorRun, () => createToResult(backend));
      report({
        group: 'sandbox',
        name: 'bwrap: create → first result',
        value: pct(create),
        ratio: ratio(create.p50, floorA.p50, 'floor (bare bwrap+python, paired)'),
        target: '≤ 1.5x floor',
        met: create.p50 <= 1.5 * floorA.p50,
      });
      const once = async () =>
        backend.runOnce?.(spec, { files: [], steps: [{ argv: ['python3', '-c', PY] }] });
      const [floorB, oneShot] = await paired(40, floorRun, once);
      report({
        group: 'sandbox',
        name: 'bwrap: runOnce → result',
        value: pct(oneShot),
        ratio: ratio(oneShot.p50, floorB.p50, 'floor (bare bwrap+python, paired)'),
        target: '≤ 1.5x floor',
        met: oneShot.p50 <= 1.5 * floorB.p50,
      });
    } else {
      const samples: number[] = [];
      for (let i = 0; i < 8; i++) samples.push(await createToResult(backend));
      const create = stats(samples);
      const floor = f.runscTrue ?? f.bwrapPython;
      report({
        group: 'sandbox',
        name: `${name}: create → first result`,
        value: pct(create),
        ratio: ratio(
          create.p50,
          floor.p50,
          f.runscTrue ? 'floor (runsc do true)' : 'floor (bare bwrap+python)',
        ),
      });
    }
    const rt = await execRoundTrip(backend, name === 'bwrap' ? 200 : 50);
    report({
      group: 'sandbox',
      name: `${name}: exec round trip (true)`,
      value: pct(rt),
      ratio: ratio(rt.p50, f.hostTrue.p50, 'host spawn of true'),
      ...(name === 'bwrap' ? { target: `≤ ${ms(3)}`, met: rt.p50 <= 3 } : {}),
    });
  } finally {
    await backend.close?.();
  }
}

export default async function sandboxBench(): Promise<void> {
  const rootfs = requireImage('default').rootfs;
  const gvisor = await (await loadBackend('gvisor')).probe();
  const f = await floors(rootfs, gvisor.usable);
  await benchBackend('bwrap', f);
  await benchBackend('gvisor', f);
}
