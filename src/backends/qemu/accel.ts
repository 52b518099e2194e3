import { execFile, spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type { HearthPaths } from '../../config/paths.js';
import { PROBE_MARKER } from '../../images/vm/init-script.js';
import type { Accelerator } from './qemu-args.js';
import { qemuArgs } from './qemu-args.js';
import { chooseQemuUser } from './qemu-user.js';
import { QEMU_BINARY, spawnQemu } from './qemu-vm.js';

const run = promisify(execFile);

export interface AccelVerdict {
  accel: Accelerator;
  /** One line: why this accelerator. */
  reason: string;
  /** What the verdict is valid for: guest kernel, QEMU version, host kernel, KVM device. */
  key: string;
  /** The `-cpu` model that works with this accelerator. */
  cpu?: string;
  /** How long the KVM probe VM took to print its marker, when it did. */
  kvmBootMs?: number;
  checkedAt: string;
}

/** How long a probe VM may take under KVM; a real KVM boots the probe in well under a second. */
export const KVM_PROBE_DEADLINE_MS = 4_000;

let qemuVersion: Promise<string> | undefined;

/** `QEMU emulator version 7.2.22 …` → `7.2.22`; throws when QEMU is missing. */
export function getQemuVersion(): Promise<string> {
  qemuVersion ??= run(QEMU_BINARY, ['--version'], { timeout: 5_000 }).then(
    ({ stdout }) => /version\s+(\S+)/.exec(stdout)?.[1] ?? stdout.trim(),
  );
  qemuVersion.catch(() => {
    qemuVersion = undefined;
  });
  return qemuVersion;
}

/** Whether the KVM device (`paths.kvmDevice`, /dev/kvm) opens read-write. */
export function kvmOpens(device: string): { ok: boolean; why: string } {
  try {
    closeSync(openSync(device, constants.O_RDWR));
    return { ok: true, why: `${device} opens` };
  } catch (err) {
    return { ok: false, why: `${device}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
}

/**
 * Boots the probe guest (kernel + initramfs, `hearth.probe=1`: it prints a marker once its modules
 * are loaded and powers off) under KVM. Resolves the boot time, or undefined when the marker did
 * not appear before the deadline; the VM is killed on every path.
 */
export interface ProbeBoot {
  /** Boot time to the marker; undefined when it did not appear. */
  bootMs?: number;
  /** QEMU exited before the deadline without the marker: its last stderr line. */
  error?: string;
}

export function bootProbeVm(opts: {
  kernel: string;
  initrd: string;
  cpu: string;
  deadlineMs: number;
  /** The exec shim: the probe VM (which may spin forever) then dies with this process. */
  shim?: string;
  /** @default QEMU_BINARY */
  qemu?: string;
}): Promise<ProbeBoot> {
  const args = qemuArgs({
    accel: 'kvm',
    cpu: opts.cpu,
    vcpus: 1,
    memoryMb: 128,
    kernel: opts.kernel,
    initrd: opts.initrd,
    append: ['hearth.probe=1'],
  });
  const serial = args.indexOf('-serial');
  args[serial + 1] = 'stdio';
  const started = performance.now();
  return new Promise((resolve) => {
    const user = chooseQemuUser({ read: [opts.kernel, opts.initrd], write: [], dirs: [], kvm: true });
    const child = opts.qemu
      ? spawn(opts.qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      : opts.shim
        ? spawnQemu({ shim: opts.shim, user, args, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(QEMU_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done = false;
    const finish = (r: ProbeBoot): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      resolve(r);
    };
    const timer = setTimeout(() => finish({}), opts.deadlineMs);
    child.on('error', (e) => finish({ error: e.message }));
    child.on('exit', () => {
      if (out.includes(PROBE_MARKER)) finish({ bootMs: performance.now() - started });
      else finish({ error: err.trim().split('\n')[0] || 'QEMU exited without booting the probe' });
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => {
      err = (err + c).slice(-2048);
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (c: string) => {
      out = (out + c).slice(-4096);
      if (out.includes(PROBE_MARKER)) finish({ bootMs: performance.now() - started });
    });
  });
}

export interface ChooseAccelOptions {
  paths: HearthPaths;
  kernel: { version: string; vmlinuz: string };
  initrd: string;
  /** `HEARTH_QEMU_ACCEL=kvm|tcg` forces a choice. */
  force?: Accelerator;
  deadlineMs?: number;
  /** The exec shim the probe VM starts through. */
  shim?: string;
  /** The QEMU that boots the probe VM. @default QEMU_BINARY */
  qemu?: string;
}

/**
 * The accelerator to use, from the verdict cached at `paths.accelVerdict` or a fresh probe. The
 * verdict is machine state (a host's KVM may work one day and hang the next under another
 * hypervisor), so it lives in the state dir, not beside the content-addressed VM artefacts.
 */
export async function chooseAccel(opts: ChooseAccelOptions): Promise<AccelVerdict> {
  const key = `${opts.kernel.version}|qemu ${await getQemuVersion()}|host ${release()}|${opts.paths.kvmDevice}`;
  const now = new Date().toISOString();
  if (opts.force)
    return { accel: opts.force, reason: `forced by HEARTH_QEMU_ACCEL=${opts.force}`, key, checkedAt: now };
  const file = opts.paths.accelVerdict;
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as AccelVerdict;
    if (cached.key === key) return cached;
  } catch {}
  const deadlineMs = opts.deadlineMs ?? KVM_PROBE_DEADLINE_MS;
  const kvm = kvmOpens(opts.paths.kvmDevice);
  let verdict: AccelVerdict;
  if (!kvm.ok) {
    verdict = { accel: 'tcg', reason: `TCG — no KVM: ${kvm.why}`, key, checkedAt: now };
  } else {
    // `-cpu host` first; some nested hypervisors refuse MSRs it sets (IA32_ARCH_CAPABILITIES), so
    // a quick failure is retried without them before KVM is given up.
    const started = performance.now();
    let cpu = 'host';
    const probe = {
      kernel: opts.kernel.vmlinuz,
      initrd: opts.initrd,
      ...(opts.qemu ? { qemu: opts.qemu } : {}),
      ...(opts.shim ? { shim: opts.shim } : {}),
    };
    let boot = await bootProbeVm({ ...probe, cpu, deadlineMs });
    if (boot.error !== undefined) {
      cpu = 'host,-arch-capabilities';
      const left = Math.max(500, deadlineMs - (performance.now() - started));
      boot = await bootProbeVm({ ...probe, cpu, deadlineMs: left });
    }
    if (boot.bootMs !== undefined) {
      const ms = Math.round(boot.bootMs);
      verdict = {
        accel: 'kvm',
        cpu,
        reason: `KVM — a probe VM booted in ${ms} ms`,
        key,
        kvmBootMs: ms,
        checkedAt: now,
      };
    } else if (boot.error !== undefined) {
      verdict = { accel: 'tcg', reason: `TCG — KVM probe VM failed: ${boot.error}`, key, checkedAt: now };
    } else {
      verdict = {
        accel: 'tcg',
        reason: `TCG — KVM did not boot a probe VM within ${deadlineMs / 1000} s`,
        key,
        checkedAt: now,
      };
    }
  }
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(verdict, null, 2)}\n`);
  renameSync(tmp, file);
  return verdict;
}
