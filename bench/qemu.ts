/**
 * microVM figures: cold boot → agent ready (the baseline), template restore → agent ready for both
 * template layouts (RAM in a copy-on-write file, RAM in the migration stream), pool checkout →
 * first result with and without a warmed pool VM, exec round trip in a live VM, and host memory
 * per idle VM (VmRSS and Pss, split into guest pages and TCG's translation cache). Printed with the
 * accelerator in use and the host's load average, since other work shares the cores.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { chooseAccel } from '../src/backends/qemu/accel.js';
import { coldBoot, type LaunchContext, type LaunchedVm, restore } from '../src/backends/qemu/launch.js';
import { createQemuBackend } from '../src/backends/qemu/qemu-backend.js';
import { ensureTemplate, type Template } from '../src/backends/qemu/template.js';
import { warmCommands } from '../src/backends/qemu/warm-up.js';
import { hearthPaths } from '../src/config/paths.js';
import { MemoryLedger } from '../src/host/ledger.js';
import { requireImage } from '../src/images/store.js';
import { ensureTools } from '../src/images/tools.js';
import { ensureVmArtefacts } from '../src/images/vm/artefacts.js';
import { ms, pct, report, sample, stats } from './lib.js';

const G = 'qemu';
const SHAPE = { vcpus: 1, memoryMb: 256, diskMb: 256 };
const MiB = (kb: number): string => `${(kb / 1024).toFixed(0)}`;

/** VmRSS and Pss of a QEMU, with the guest's private (copied) pages and the TCG code cache. */
function memKb(pid: number) {
  const field = (text: string, name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  let guestRss = 0;
  let guestPrivate = 0;
  let tcg = 0;
  let head = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) head = line;
    else if (head.endsWith('.mem') && line.startsWith('Rss:')) guestRss += field(line, 'Rss');
    else if (head.endsWith('.mem') && line.startsWith('Anonymous:')) guestPrivate += field(line, 'Anonymous');
    else if (/ rwxp /.test(head) && line.startsWith('Rss:')) tcg += field(line, 'Rss');
  }
  return {
    rss: field(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS'),
    pss: field(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss'),
    guestRss,
    guestPrivate,
    tcg,
  };
}

const files = (t: Template) => ({
  stateFile: t.stateFile,
  ...(t.memoryFile ? { memoryFile: t.memoryFile } : {}),
});
const load = (): string => `load ${loadavg()[0]?.toFixed(1)}`;
async function stop(v: LaunchedVm): Promise<void> {
  await v.agent.close();
  await v.vm.destroy();
}

export default async function bench(): Promise<void> {
  const paths = hearthPaths();
  const ledger = new MemoryLedger();
  const image = requireImage('default', { paths });
  const tools = await ensureTools({ paths });
  const artefacts = await ensureVmArtefacts({ image, tools, paths });
  const accel = await chooseAccel({
    paths,
    kernel: artefacts.kernel,
    initrd: artefacts.initramfs.path,
    shim: tools.shim,
  });
  const ctx: LaunchContext = { paths, ledger, artefacts, accel, shim: tools.shim };
  report({ group: G, name: 'accelerator', value: accel.accel, ratio: `${accel.reason}; ${load()}` });

  const cold = await sample(3, async () => stop(await coldBoot(ctx, SHAPE)), 0);
  report({ group: G, name: 'cold boot → agent ready', value: pct(cold), ratio: load() });

  const warm = warmCommands('default');
  const shared = await ensureTemplate(ctx, 'default', SHAPE, { warm });
  const stream = await ensureTemplate({ ...ctx, sharedMemory: false }, 'default', SHAPE, { warm });
  report({
    group: G,
    name: 'template files (state / RAM file on disk)',
    value: `${(shared.sizeBytes / 1024).toFixed(0)} KiB / ${((shared.memoryBytes ?? 0) / 1048576).toFixed(0)} MiB`,
    ratio: `stream layout: ${(stream.sizeBytes / 1048576).toFixed(0)} MiB state file`,
  });
  // The two layouts alternate, so both see the same load.
  const layouts = [
    { name: 'copy-on-write RAM file', t: shared, ms: [] as number[] },
    { name: 'RAM in the stream', t: stream, ms: [] as number[] },
  ];
  for (let i = 0; i < 9; i++) {
    for (const l of layouts) {
      const started = performance.now();
      await stop(await restore(ctx, SHAPE, files(l.t)));
      if (i > 0) l.ms.push(performance.now() - started);
    }
  }
  for (const l of layouts) {
    const restored = stats(l.ms);
    const speedup = cold.p50 / restored.p50;
    report({
      group: G,
      name: `template restore → agent ready (${l.name})`,
      value: pct(restored),
      ratio: `${speedup.toFixed(1)}x faster than cold boot; ${load()}`,
      target: '≥ 5x',
      met: speedup >= 5,
    });
  }

  // Exec round trip in one live VM; memory of three idle clones of the shared template.
  const clones: LaunchedVm[] = [];
  try {
    for (let i = 0; i < 3; i++) clones.push(await restore(ctx, SHAPE, files(shared)));
    const live = clones[0] as LaunchedVm;
    const ping = await sample(30, () => live.agent.ping(), 3);
    report({ group: G, name: 'agent ping round trip', value: pct(ping) });
    const exec = await sample(15, () => live.agent.run({ argv: ['true'] }), 2);
    report({
      group: G,
      name: 'exec round trip (true)',
      value: pct(exec),
      ratio: `${(exec.p50 / ping.p50).toFixed(1)}x ping`,
      target: '≤ 5 ms',
      met: exec.p50 <= 5,
    });
    await new Promise((r) => setTimeout(r, 1000));
    const m = memKb((clones[1] as LaunchedVm).vm.pid as number);
    report({
      group: G,
      name: 'host VmRSS / Pss per idle 256 MiB VM (1 of 3)',
      value: `${MiB(m.rss)} / ${MiB(m.pss)} MiB`,
      ratio: `guest pages ${MiB(m.guestRss)} MiB mapped, ${MiB(m.guestPrivate)} MiB private; TCG code ${MiB(m.tcg)} MiB`,
      target: '≤ 64 MiB',
      met: m.pss / 1024 <= 64,
    });
    // TCG's translated code exists only under emulation: without it is what the VM costs on KVM.
    const kvmLike = (m.pss - m.tcg) / 1024;
    report({
      group: G,
      name: 'host Pss per idle VM, less TCG code (KVM-like)',
      value: `${kvmLike.toFixed(0)} MiB`,
      ratio: `guest pages cost ${MiB(m.guestPrivate + (m.guestRss - m.guestPrivate) / clones.length)} MiB of it`,
      target: '≤ 64 MiB',
      met: kvmLike <= 64,
    });
  } finally {
    await Promise.allSettled(clones.map(stop));
  }

  for (const poolWarm of [1, 0]) {
    const backend = createQemuBackend({ ledger, poolSize: 1, poolWarm });
    try {
      const spec = { image: 'default', memoryMb: SHAPE.memoryMb };
      const own: number[] = [];
      for (let i = 0; i < 6; i++) {
        await backend.poolReady('default', spec);
        const t = performance.now();
        const sb = await backend.create(spec);
        await sb.agent.run({ argv: ['python3', '-c', 'print(1)'] });
        if (i > 0) own.push(performance.now() - t);
        await sb.destroy();
      }
      const s = stats(own);
      report({
        group: G,
        name: `pool checkout → first result (python3 -c)${poolWarm ? '' : ', pool VM not warmed'}`,
        value: `p50 ${ms(s.p50)} p95 ${ms(s.p95)}`,
        ratio: `${(cold.p50 / s.p50).toFixed(1)}x faster than cold boot; ${load()}`,
        target: '≤ 500 ms',
        met: s.p50 <= 500,
      });
    } finally {
      await backend.close();
    }
  }
}
