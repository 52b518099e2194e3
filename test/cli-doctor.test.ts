import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BACKEND_NAMES } from '../src/backends/backend.js';
import { projectRoot } from '../src/config/paths.js';

const run = promisify(execFile);
const cli = join(projectRoot(), 'bin/hearth.js');

interface Report {
  name: string;
  probe: { usable: boolean; reason: string; details?: Record<string, string> };
  elapsedMs: number;
}

describe('hearth doctor', () => {
  it('reports every backend, usable or not, each with a reason', async () => {
    const { stdout } = await run('node', [cli, 'doctor', '--json'], { timeout: 30_000 });
    const reports = JSON.parse(stdout) as Report[];
    expect(reports.map((r) => r.name).sort()).toEqual([...BACKEND_NAMES].sort());
    for (const r of reports) expect(r.probe.reason.length, r.name).toBeGreaterThan(5);
    const byName = Object.fromEntries(reports.map((r) => [r.name, r.probe]));
    // This host has bubblewrap and runsc installed by .ci/run, and no firecracker binary.
    expect(byName.bwrap?.usable).toBe(true);
    expect(byName.gvisor?.usable).toBe(true);
    expect(byName.firecracker).toMatchObject({
      usable: false,
      reason: expect.stringMatching(/not installed/),
    });
    // QEMU is usable either way; the accelerator and the reason for it are reported.
    expect(byName.qemu?.details?.accelerator).toMatch(/^(kvm|tcg)$/);
    if (byName.qemu?.details?.accelerator === 'tcg') expect(byName.qemu.reason).toMatch(/KVM/);
  });

  it('names the default backend in its text report', async () => {
    const { stdout } = await run('node', [cli, 'doctor'], { timeout: 30_000 });
    expect(stdout).toMatch(/^ok {2}bwrap/m);
    expect(stdout).toMatch(/^default backend: bwrap/m);
  });
});
