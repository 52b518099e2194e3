/**
 * microVM figures: cold boot → agent ready, template restore → agent ready, pool checkout → first
 * result, exec round trip in a live VM, and host memory per idle VM. Printed with the accelerator
 * in use (TCG where KVM does not boot, e.g. nested PVM hosts).
 */
import { readFileSync } from 'node:fs';
import { chooseAccel } from '../src/backends/qemu/accel.js';
import { coldBoot, type LaunchContext, restore } from '../src/backends/qemu/launch.js';
import { createQemuBackend } from '../src/backends/qemu/qemu-backend.js';
import { ensureTemplate } from '../src/backends/qemu/template.js';
import { hearthPaths } from '../src/config/paths.js';
import { requireImage } from '../src/images/store.js';
import { ensureTools } from '../src/images/tools.js';
import { ensureVmArtefacts } from '../src/images/vm/artefacts.js';
import { MemoryLedger } from '../src/sandboxes/ledger.js';
import { ms, pct, ratio, report, sample } from './lib.js';

const G = 'qemu';
const SHAPE = { vcpus: 1, memoryMb: 256, diskMb: 256 };

function memKb(pid: number): { rss: number; pss: number } {
  const field = (text: string, name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return {
    rss: field(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS'),
    pss: field(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss'),
  };
}

export default async function bench(): Promise<void> {
  const paths = hearthPaths();
  const ledger = new MemoryLedger();
  const image = requireImage('default', { paths });
  const tools = await ensureTools({ paths });
  const artefacts = await ensureVmArtefacts({ image, tools, paths });
  const accel = await chooseAccel({ paths, kernel: artefacts.kernel, initrd: artefacts.initramfs.path });
  const ctx: LaunchContext = { paths, ledger, artefacts, accel };
  report({ group: G, name: 'accelerator', value: accel.accel, ratio: accel.reason });

  const cold = await sample(3, async () => (await coldBoot(ctx, SHAPE)).vm.destroy(), 0);
  report({ group: G, name: 'cold boot → agent ready', value: pct(cold) });

  const template = await ensureTemplate(ctx, 'default', SHAPE);
  report({
    group: G,
    name: 'template state file',
    value: `${(template.sizeBytes / 1048576).toFixed(1)} MiB`,
  });
  const restored = await sample(
    8,
    async () => {
      const vm = await restore(ctx, SHAPE, { stateFile: template.stateFile });
      await vm.agent.close();
      await vm.vm.destroy();
    },
    1,
  );
  const speedup = cold.p50 / restored.p50;
  report({
    group: G,
    name: 'template restore → agent ready',
    value: pct(restored),
    ratio: `${speedup.toFixed(1)}x faster than cold boot`,
    target: '≥ 5x',
    met: speedup >= 5,
  });

  // Exec round trip and memory in one live, idle VM.
  const live = await restore(ctx, SHAPE, { stateFile: template.stateFile });
  try {
    const ping = await sample(30, () => live.agent.ping(), 3);
    report({ group: G, name: 'agent ping round trip', value: pct(ping) });
    const exec = await sample(15, () => live.agent.run({ argv: ['true'] }), 2);
    report({
      group: G,
      name: 'exec round trip (true)',
      value: pct(exec),
      ratio: ratio(exec.p50, ping.p50, 'ping'),
      target: '≤ 5 ms',
      met: exec.p50 <= 5,
    });
    await new Promise((r) => setTimeout(r, 1000));
    const m = memKb(live.vm.pid as number);
    report({
      group: G,
      name: 'host RSS / PSS per idle 256 MiB VM',
      value: `${(m.rss / 1024).toFixed(0)} / ${(m.pss / 1024).toFixed(0)} MiB`,
      target: '≤ 64 MiB',
      met: m.pss / 1024 <= 64,
    });
  } finally {
    await live.agent.close();
    await live.vm.destroy();
  }

  const backend = createQemuBackend({ ledger, poolSize: 1 });
  try {
    const spec = { image: 'default', memoryMb: SHAPE.memoryMb };
    const checkout = await sample(
      5,
      async () => {
        await backend.poolReady('default', spec).catch(() => {});
        const t = performance.now();
        const sb = await backend.create(spec);
        await sb.agent.run({ argv: ['python3', '-c', 'print(1)'] });
        const took = performance.now() - t;
        await sb.destroy();
        return took;
      },
      1,
    );
    // sample() timed the pool refill too; time the checkout itself.
    const own: number[] = [];
    for (let i = 0; i < 5; i++) {
      await backend.poolReady('default', spec);
      const t = performance.now();
      const sb = await backend.create(spec);
      await sb.agent.run({ argv: ['python3', '-c', 'print(1)'] });
      own.push(performance.now() - t);
      await sb.destroy();
    }
    own.sort((a, b) => a - b);
    const p50 = own[Math.floor(own.length / 2)] as number;
    report({
      group: G,
      name: 'pool checkout → first result (python3 -c)',
      value: `p50 ${ms(p50)} (cycle ${ms(checkout.p50)})`,
      target: '≤ 500 ms',
      met: p50 <= 500,
    });
  } finally {
    await backend.close();
  }
}
