/**
 * The accelerator verdict on hosts without a KVM device and with one that hangs. The hang is made
 * real where the host's own /dev/kvm works: a stand-in for QEMU that never answers (a process that
 * sleeps) behind a stand-in device that opens (/dev/null).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { chooseAccel } from '../src/backends/qemu/accel.js';
import { hearthPaths } from '../src/config/paths.js';
import { isRunning } from '../src/host/sandbox-id.js';
import { hangingQemu } from './accel-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'hearth-accel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh state dir per case: the verdict is state, cached there. */
const freshPaths = (name: string, kvmDevice: string) =>
  hearthPaths({ ...process.env, HEARTH_STATE_DIR: join(dir, name), HEARTH_KVM_DEVICE: kvmDevice });

/** The probe never boots anything in these cases, so no real kernel is needed. */
const kernel = { version: 'test-kernel', vmlinuz: join(dir, 'no-vmlinuz') };

describe('chooseAccel', () => {
  test('no KVM device: TCG, and the reason names the missing device', async () => {
    const paths = freshPaths('absent', join(dir, 'no-such-kvm'));
    const v = await chooseAccel({ paths, kernel, initrd: join(dir, 'no-initrd') });
    expect(v.accel).toBe('tcg');
    expect(v.reason).toMatch(/no KVM: .*no-such-kvm: ENOENT/);
    // Written to the state dir, not beside the content-addressed VM artefacts.
    expect(paths.accelVerdict.startsWith(paths.state)).toBe(true);
    expect(JSON.parse(readFileSync(paths.accelVerdict, 'utf8'))).toMatchObject({ accel: 'tcg' });
  });

  test('a KVM that hangs (stand-in: a QEMU that never answers): TCG after the deadline, the probe killed', async () => {
    const qemu = hangingQemu(dir);
    const paths = freshPaths('hanging', '/dev/null');
    const v = await chooseAccel({
      paths,
      kernel,
      initrd: join(dir, 'no-initrd'),
      deadlineMs: 500,
      qemu: qemu.bin,
    });
    expect(v.accel).toBe('tcg');
    expect(v.reason).toMatch(/KVM did not boot a probe VM/);
    const pid = Number(readFileSync(qemu.pidFile, 'utf8'));
    for (let i = 0; i < 100 && isRunning(pid); i++) await new Promise((r) => setTimeout(r, 20));
    expect(isRunning(pid), 'the hanging probe is killed').toBe(false);
  });

  test('a verdict is kept per KVM device: another device is probed afresh', async () => {
    const state = join(dir, 'per-device');
    const absent = hearthPaths({
      ...process.env,
      HEARTH_STATE_DIR: state,
      HEARTH_KVM_DEVICE: join(dir, 'a'),
    });
    const other = hearthPaths({ ...process.env, HEARTH_STATE_DIR: state, HEARTH_KVM_DEVICE: join(dir, 'b') });
    expect((await chooseAccel({ paths: absent, kernel, initrd: '' })).reason).toMatch(/\/a: ENOENT/);
    expect((await chooseAccel({ paths: other, kernel, initrd: '' })).reason).toMatch(/\/b: ENOENT/);
    expect(existsSync(other.accelVerdict)).toBe(true);
  });
});
