import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentClient } from '../../agent/client.js';
import type { HearthPaths } from '../../config/paths.js';
import { HearthError } from '../../errors/hearth-error.js';
import type { SandboxLedger } from '../../host/ledger.js';
import { newSandboxId } from '../../host/sandbox-id.js';
import type { VmArtefacts } from '../../images/vm/artefacts.js';
import { type AccelVerdict, getQemuVersion } from './accel.js';
import type { QemuVmConfig } from './qemu-args.js';
import { handToQemu } from './qemu-user.js';
import { QemuVm } from './qemu-vm.js';

/** What fixes a VM's device layout: a template restores only into the same shape. */
export interface VmShape {
  vcpus: number;
  memoryMb: number;
  diskMb: number;
}

export interface LaunchContext {
  paths: HearthPaths;
  ledger: SandboxLedger;
  artefacts: VmArtefacts;
  accel: AccelVerdict;
  /** The exec shim on the host, which starts every QEMU (see `spawnQemu`). */
  shim: string;
  /**
   * Templates keep guest RAM in a file that clones map copy-on-write (`x-ignore-shared`), instead
   * of inside the migration stream. `HEARTH_QEMU_SHARED_MEMORY=0` turns it off. @default true
   */
  sharedMemory?: boolean;
}

/** How long a cold boot may take until the agent answers (TCG on a busy 2-core host is slow). */
export const COLD_BOOT_TIMEOUT_MS = 90_000;
/** How long a restored VM's agent may take to answer. */
const RESTORE_TIMEOUT_MS = 20_000;

export function vmConfig(
  ctx: LaunchContext,
  shape: VmShape,
): Omit<QemuVmConfig, 'agentSocket' | 'qmpSocket' | 'console'> {
  return {
    accel: ctx.accel.accel,
    ...(ctx.accel.cpu ? { cpu: ctx.accel.cpu } : {}),
    vcpus: shape.vcpus,
    memoryMb: shape.memoryMb,
    diskMb: shape.diskMb,
    kernel: ctx.artefacts.kernel.vmlinuz,
    initrd: ctx.artefacts.initramfs.path,
    rootfs: ctx.artefacts.rootfsErofs,
    tools: ctx.artefacts.toolsErofs,
  };
}

/** What a VM was started from: a snapshot of it restores only into a VM started the same way. */
export interface VmBuild {
  /** Kernel, initramfs, image and tools hash (VmArtefacts.key). */
  artefactsKey: string;
  accel: string;
  /** The `-cpu` model ('' for the default). */
  cpu: string;
  qemuVersion: string;
  vcpus: number;
  memoryMb: number;
  diskMb: number;
  /** Guest RAM is the `mem` object (a template VM or its clone) rather than the machine's own. */
  namedRam: boolean;
}

export interface LaunchedVm {
  id: string;
  vm: QemuVm;
  agent: AgentClient;
  build: VmBuild;
}

async function vmBuild(ctx: LaunchContext, shape: VmShape, namedRam: boolean): Promise<VmBuild> {
  return {
    artefactsKey: ctx.artefacts.key,
    accel: ctx.accel.accel,
    cpu: ctx.accel.cpu ?? '',
    qemuVersion: await getQemuVersion(),
    ...shape,
    namedRam,
  };
}

/** Boots a VM from scratch and waits for its agent. */
export async function coldBoot(
  ctx: LaunchContext,
  shape: VmShape,
  opts: {
    labels?: Record<string, string>;
    signal?: AbortSignal;
    /** Guest RAM in this file, written through (a template VM). */
    memoryFile?: string;
  } = {},
): Promise<LaunchedVm> {
  const id = newSandboxId('qemu');
  const vm = await QemuVm.start({
    id,
    dir: join(ctx.paths.run, id),
    config: {
      ...vmConfig(ctx, shape),
      ...(opts.memoryFile ? { memoryFile: { path: opts.memoryFile, shared: true } } : {}),
    },
    ledger: ctx.ledger,
    shim: ctx.shim,
    ...(opts.labels ? { labels: opts.labels } : {}),
  });
  return withVm(vm, opts.signal, async () => {
    const agent = await vm.connectAgent({ helloTimeoutMs: COLD_BOOT_TIMEOUT_MS });
    return { id, vm, agent, build: await vmBuild(ctx, shape, opts.memoryFile !== undefined) };
  });
}

export interface RestoreOptions {
  /** The migration stream (device state; guest RAM too unless `memoryFile` is given). */
  stateFile: string;
  /** The template's RAM file, mapped privately: pages the clone only reads stay shared. */
  memoryFile?: string;
  /** RAM in anonymous memory named `mem` (a snapshot of a template's clone; see QemuVmConfig). */
  namedRam?: boolean;
  labels?: Record<string, string>;
  signal?: AbortSignal;
  /** QEMU's nice level (pool refills run below VMs in use). @default 0 */
  nice?: number;
  /** The error for a state file QEMU cannot load (a damaged snapshot); @default QEMU's failure */
  loadError?: (cause: Error) => HearthError;
}

/**
 * Starts a VM paused (`-incoming defer`), loads a template's or a snapshot's state into it, resumes it, then
 * reconnects the agent and tells it who it is now: a new sandbox id, the wall clock, and fresh
 * entropy (every clone of a template starts with the same RNG state).
 */
export async function restore(ctx: LaunchContext, shape: VmShape, opts: RestoreOptions): Promise<LaunchedVm> {
  const id = newSandboxId('qemu');
  // Opened here and inherited as QEMU's fd 3: QEMU may not run `cat` (seccomp) nor reach the file.
  const stateFd = openSync(opts.stateFile, 'r');
  if (opts.memoryFile) handToQemu(opts.memoryFile);
  let vm: QemuVm;
  try {
    vm = await QemuVm.start({
      id,
      dir: join(ctx.paths.run, id),
      config: {
        ...vmConfig(ctx, shape),
        incoming: true,
        ...(opts.memoryFile ? { memoryFile: { path: opts.memoryFile, shared: false } } : {}),
        ...(opts.namedRam ? { namedRam: true } : {}),
      },
      ledger: ctx.ledger,
      shim: ctx.shim,
      passFds: [stateFd],
      ...(opts.labels ? { labels: opts.labels } : {}),
      ...(opts.nice ? { nice: opts.nice } : {}),
    });
  } finally {
    closeSync(stateFd);
  }
  return withVm(vm, opts.signal, async () => {
    // The stream carries no RAM for a file-backed template; both sides must agree on that.
    if (opts.memoryFile) await setIgnoreShared(vm);
    let state: string;
    try {
      await vm.qmp.execute('migrate-incoming', { uri: 'fd:3' });
      state = await waitForIncoming(vm, RESTORE_TIMEOUT_MS);
    } catch (err) {
      // QEMU exits on a stream it cannot load; its stderr says why.
      const why = vm.exited ? await vm.exitFailure('QEMU could not load the saved state') : (err as Error);
      throw opts.loadError?.(why) ?? why;
    }
    if (state === 'paused') await vm.qmp.execute('cont');
    const agent = await reconnectAgent(vm, RESTORE_TIMEOUT_MS);
    await agent.afterRestore({ sandboxId: id, nowMs: Date.now(), entropy: randomBytes(32) });
    const namedRam = opts.memoryFile !== undefined || opts.namedRam === true;
    return { id, vm, agent, build: await vmBuild(ctx, shape, namedRam) };
  });
}

/** How long one hello after a restore may take before the host reconnects and asks again. */
const RESTORE_HELLO_ATTEMPT_MS = 6_000;

/**
 * Connects to a restored VM's agent. A hello that gets no answer is asked again on a fresh
 * connection (the guest's relay resets on the disconnect) until `timeoutMs`: a restored guest
 * answers in well under a second, so a silent one has lost the request, not its time.
 */
async function reconnectAgent(vm: QemuVm, timeoutMs: number): Promise<AgentClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    try {
      return await vm.connectAgent({ helloTimeoutMs: Math.max(1, Math.min(RESTORE_HELLO_ATTEMPT_MS, left)) });
    } catch (err) {
      if (vm.exited || Date.now() >= deadline - 100) throw err;
      process.emitWarning(`qemu: ${vm.id}: no hello from the restored agent; reconnecting`);
    }
  }
}

/** Sets the `x-ignore-shared` migration capability: RAM in a shared file stays out of the stream. */
export async function setIgnoreShared(vm: QemuVm): Promise<void> {
  await vm.qmp.execute('migrate-set-capabilities', {
    capabilities: [{ capability: 'x-ignore-shared', state: true }],
  });
}

/** Waits until the incoming migration has been loaded; resolves the run state after it. */
async function waitForIncoming(vm: QemuVm, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await vm.qmp.execute<{ status: string }>('query-status');
    if (s.status === 'running' || s.status === 'paused') return s.status;
    if (s.status !== 'inmigrate' || vm.exited) throw vm.failure(`restore failed (${s.status})`);
    if (Date.now() > deadline) throw vm.failure(`restore did not finish in ${timeoutMs} ms (${s.status})`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Runs `fn`; on error or abort the VM is destroyed before the error is rethrown. */
async function withVm<T>(vm: QemuVm, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  const onAbort = (): void => void vm.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) throw new HearthError('CANCELLED', 'cancelled before the VM started');
    return await fn();
  } catch (err) {
    await vm.destroy();
    if (signal?.aborted) throw new HearthError('CANCELLED', 'cancelled while the VM started', { cause: err });
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
