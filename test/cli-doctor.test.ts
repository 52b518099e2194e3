/**
 * `hearth doctor` as a user runs it, asserting what this host really has (a KVM device or none, one
 * that boots a guest or one that hangs), then on a host without a KVM device and with one that
 * hangs (stand-ins: a device path that does not exist; a QEMU that never answers behind /dev/null).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKEND_NAMES } from '../src/backends/backend.js';
import { kvmOpens } from '../src/backends/qemu/accel.js';
import { hearthPaths, projectRoot } from '../src/config/paths.js';
import { isRunning } from '../src/host/sandbox-id.js';
import { hangingQemu } from './accel-fixture.js';

const run = promisify(execFile);
const cli = join(projectRoot(), 'bin/hearth.js');
const dir = mkdtempSync(join(tmpdir(), 'hearth-doctor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Report {
  name: string;
  probe: { usable: boolean; reason: string; details?: Record<string, string> };
  elapsedMs: number;
}

async function doctor(env: Record<string, string> = {}): Promise<Record<string, Report['probe']>> {
  const { stdout } = await run('node', [cli, 'doctor', '--json'], {
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  const reports = JSON.parse(stdout) as Report[];
  expect(reports.map((r) => r.name).sort()).toEqual([...BACKEND_NAMES].sort());
  for (const r of reports) expect(r.probe.reason.length, r.name).toBeGreaterThan(5);
  return Object.fromEntries(reports.map((r) => [r.name, r.probe]));
}

describe('hearth doctor', () => {
  it('reports every backend, usable or not, each with a reason true to this host', async () => {
    const byName = await doctor();
    // This host has bubblewrap and runsc installed by .ci/run, and no firecracker binary.
    expect(byName.bwrap?.usable).toBe(true);
    expect(byName.gvisor?.usable).toBe(true);
    expect(byName.firecracker).toMatchObject({
      usable: false,
      reason: expect.stringMatching(/not installed/),
    });
    // QEMU is usable either way; the accelerator and the reason for it follow the host's KVM device.
    expect(byName.qemu?.usable, byName.qemu?.reason).toBe(true);
    const device = hearthPaths().kvmDevice;
    const kvm = kvmOpens(device);
    if (!kvm.ok) {
      expect(byName.qemu?.details?.accelerator).toBe('tcg');
      expect(byName.qemu?.reason).toContain(`no KVM: ${kvm.why}`);
    } else {
      expect(byName.qemu?.details?.accelerator).toMatch(/^(kvm|tcg)$/);
      // A device that opens but does not boot a guest (a hanging KVM) is named as the reason.
      if (byName.qemu?.details?.accelerator === 'tcg') expect(byName.qemu.reason).toMatch(/KVM/);
    }
  });

  it('on a host without a KVM device: QEMU on TCG, saying so', async () => {
    const missing = join(dir, 'no-kvm');
    const byName = await doctor({ HEARTH_KVM_DEVICE: missing, HEARTH_STATE_DIR: join(dir, 'absent') });
    expect(byName.qemu).toMatchObject({ usable: true, details: { accelerator: 'tcg' } });
    expect(byName.qemu?.reason).toContain(`no KVM: ${missing}: ENOENT`);
    expect(byName.bwrap?.usable).toBe(true);
  });

  it('on a host whose KVM hangs (stand-in: a QEMU that never answers): QEMU on TCG, nothing left running', async () => {
    const qemu = hangingQemu(dir);
    const byName = await doctor({
      HEARTH_QEMU: qemu.bin,
      HEARTH_KVM_DEVICE: '/dev/null',
      HEARTH_STATE_DIR: join(dir, 'hanging'),
    });
    expect(byName.qemu).toMatchObject({ usable: true, details: { accelerator: 'tcg' } });
    expect(byName.qemu?.reason).toMatch(/KVM did not boot a probe VM/);
    expect(isRunning(Number(readFileSync(qemu.pidFile, 'utf8'))), 'the hanging probe is killed').toBe(false);
  });

  it('names the default backend in its text report', async () => {
    const { stdout } = await run('node', [cli, 'doctor'], { timeout: 60_000 });
    expect(stdout).toMatch(/^ok {2}bwrap/m);
    expect(stdout).toMatch(/^default backend: bwrap/m);
  });
});
