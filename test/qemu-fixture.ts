/**
 * One qemu backend per test file, with an in-memory ledger, freed in afterAll. VM tests skip with
 * the probe's reason when QEMU cannot run here.
 */
import { readdirSync } from 'node:fs';
import { createQemuBackend } from '../src/backends/qemu/qemu-backend.js';
import { hearthPaths } from '../src/config/paths.js';
import { MemoryLedger } from '../src/host/ledger.js';

export function qemuFixture(opts: { poolSize?: number } = {}) {
  const ledger = new MemoryLedger();
  const backend = createQemuBackend({ ledger, poolSize: opts.poolSize ?? 1 });
  return { ledger, backend, paths: hearthPaths() };
}

/** QEMU processes that run a VM of this test process (their sockets are under our run dir). */
export function ourQemuPids(): number[] {
  const marker = `qemu-${process.pid}-`;
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSyncSafe(`/proc/${p}/cmdline`);
      if (cmd.startsWith('qemu-system') && cmd.includes(marker)) out.push(Number(p));
    } catch {}
  }
  return out;
}

/** Entries of the run dir that belong to VMs of this test process. */
export function ourRunDirs(): string[] {
  try {
    return readdirSync(hearthPaths().run).filter((d) => d.startsWith(`qemu-${process.pid}-`));
  } catch {
    return [];
  }
}

import { readFileSync } from 'node:fs';

function readFileSyncSafe(path: string): string {
  return readFileSync(path, 'utf8').replace(/\0/g, ' ');
}
