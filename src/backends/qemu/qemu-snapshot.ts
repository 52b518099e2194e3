import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentClient } from '../../agent/client.js';
import { HearthError } from '../../errors/hearth-error.js';
import type { SnapshotInfo } from '../backend.js';
import { checkSnapshot, checkTargetDir, rememberVerified, sha256OfFile } from '../shared/snapshot-checks.js';

async function hashAndRemember(file: string): Promise<string> {
  const sha256 = await sha256OfFile(file);
  rememberVerified(file, sha256);
  return sha256;
}

import type { LaunchContext, VmBuild, VmShape } from './launch.js';
import { migrateToFile } from './migration-sink.js';
import type { QemuVm } from './qemu-vm.js';

/**
 * Memory snapshots of a running VM: QMP `stop`, `migrate` of the whole machine into one file, `cont`.
 * The guest's writable files are tmpfs in its RAM, so the snapshot holds them too, with every
 * process (interpreter contexts and their variables included) and the environment.
 *
 * The file holds all of the guest's RAM, whatever the VM was started from: a clone of a template
 * maps the template's RAM file privately, and that file is replaced when the template is built
 * again, so a snapshot that only pointed into it would restore another machine's pages. (QEMU's
 * `x-ignore-shared` leaves private mappings in the stream anyway; it is turned off explicitly so
 * the stream's layout does not depend on how the VM was started.)
 */

/** Recorded in `meta.format`; another value is SNAPSHOT_INCOMPATIBLE. */
export const VM_SNAPSHOT_FORMAT = 'qemu-migration-v1';
/** The migration stream's file in the snapshot's directory. */
export const VM_STATE_FILE = 'vm.state';
/** How long saving a VM may take (a 1 GiB guest under TCG on a busy host). */
const SAVE_TIMEOUT_MS = 120_000;

/** `meta` of a VM snapshot: everything a restore must match or reproduce. */
function metaOf(build: VmBuild, image: string, sha256: string): SnapshotInfo['meta'] {
  return { format: VM_SNAPSHOT_FORMAT, image, ...build, [`sha256:${VM_STATE_FILE}`]: sha256 };
}

/**
 * Saves a running VM into `dir` and lets it run on. The agent flushes first (`prepare-snapshot`);
 * a restore tells the copy who it is (`after-restore`, see launch.ts).
 */
export async function saveVm(o: {
  vm: QemuVm;
  agent: AgentClient;
  build: VmBuild;
  image: string;
  dir: string;
}): Promise<SnapshotInfo> {
  const { vm } = o;
  checkTargetDir(o.dir);
  const file = join(o.dir, VM_STATE_FILE);
  const createdAt = new Date().toISOString();
  await o.agent.prepareSnapshot();
  let stopped = false;
  try {
    await vm.qmp.execute('stop');
    stopped = true;
    await vm.qmp.execute('migrate-set-capabilities', {
      capabilities: [{ capability: 'x-ignore-shared', state: false }],
    });
    await migrateToFile(vm, file, { timeoutMs: SAVE_TIMEOUT_MS, what: 'saving the snapshot' });
  } catch (err) {
    // A save that timed out is still running: QEMU refuses `cont` until it is cancelled.
    if (stopped) await vm.qmp.execute('migrate_cancel').catch(() => {});
    rmSync(file, { force: true });
    throw err instanceof HearthError && err.code === 'SANDBOX_LOST'
      ? err
      : new HearthError('SNAPSHOT_FAILED', `the VM could not be saved: ${(err as Error).message}`, {
          cause: err,
        });
  } finally {
    // The sandbox keeps running whether or not the save worked.
    if (stopped) await vm.qmp.execute('cont').catch(() => {});
  }
  return {
    dir: o.dir,
    kind: 'memory',
    backend: 'qemu',
    sizeBytes: statSync(file).size,
    createdAt,
    // Read back once it is all on disk (from the page cache): a restore checks it before use.
    meta: metaOf(o.build, o.image, await hashAndRemember(file)),
  };
}

/**
 * Checks a snapshot against this host (QEMU, kernel, image and tools, accelerator) and returns the
 * shape and RAM layout to start its VM with. The shape is the snapshot's: a VM restores only into
 * the machine it was saved from.
 */
export async function vmToRestore(
  snap: SnapshotInfo,
  ctx: LaunchContext,
  host: { qemuVersion: string; image: string },
): Promise<{ shape: VmShape; stateFile: string; namedRam: boolean }> {
  await checkSnapshot(snap, {
    backend: 'qemu',
    from: ['qemu'],
    kind: 'memory',
    files: [VM_STATE_FILE],
    meta: {
      format: VM_SNAPSHOT_FORMAT,
      image: host.image,
      artefactsKey: ctx.artefacts.key,
      accel: ctx.accel.accel,
      cpu: ctx.accel.cpu ?? '',
      qemuVersion: host.qemuVersion,
    },
  });
  const d = snap.meta;
  const size = (key: 'vcpus' | 'memoryMb' | 'diskMb'): number => {
    const v = d[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65_536)
      throw new HearthError('SNAPSHOT_INCOMPATIBLE', `the snapshot's ${key} (${String(v)}) is not a VM size`);
    return v;
  };
  return {
    shape: { vcpus: size('vcpus'), memoryMb: size('memoryMb'), diskMb: size('diskMb') },
    stateFile: join(snap.dir, VM_STATE_FILE),
    namedRam: d.namedRam === true,
  };
}
