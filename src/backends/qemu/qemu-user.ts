import { chownSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Who QEMU runs as. A guest that breaks out of QEMU should land in an unprivileged process, so
 * QEMU runs as a uid of its own when hearth is root and that uid can reach every file the VM
 * opens by path; else as hearth's own user, with the reason kept (probe details, a warning).
 *
 * The uid is set by the exec shim before QEMU starts, not by QEMU's `-runas`: `-sandbox
 * elevateprivileges=deny` forbids QEMU's own setuid (it dies of SIGSYS), and the kernel clears
 * the parent-death signal on a credential change, so the drop must come before it is set.
 *
 * One limit of QEMU 7.2: a clone opens its template's RAM file read-write even though it maps it
 * privately (QEMU ≥ 8.2 has `rom=off` for a read-only open), so the file belongs to this uid. A
 * QEMU process taken over by its guest could therefore change templates; every other host file
 * stays out of its reach, and it can neither gain privileges nor start programs (seccomp).
 */
export interface QemuUser {
  /** The uid and gid the shim drops to; absent: QEMU keeps hearth's own. */
  uid?: number;
  gid?: number;
  /** Supplementary groups (the group of /dev/kvm under KVM). */
  groups: number[];
  /** One line: who QEMU runs as and why. */
  reason: string;
}

/** The uid (and gid) of QEMU processes. `HEARTH_QEMU_UID`, 0 for root; @default 199000 */
export function configuredQemuUid(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.HEARTH_QEMU_UID ?? 199_000);
  return Number.isInteger(v) && v >= 0 ? v : 199_000;
}

export interface QemuFiles {
  /** Files QEMU opens read-only by path (kernel, initramfs, disk images). */
  read: string[];
  /** Files QEMU opens read-write by path (a template's RAM file). */
  write: string[];
  /** Directories QEMU creates sockets in (made its own by `grant`). */
  dirs: string[];
  /** Whether QEMU opens /dev/kvm. */
  kvm: boolean;
}

/** Whether `uid`/`gids` may do `want` (R_OK|W_OK|X_OK bits) on `st`, from its mode bits. */
function permits(
  st: { uid: number; gid: number; mode: number },
  uid: number,
  gids: number[],
  want: number,
): boolean {
  const shift = st.uid === uid ? 6 : gids.includes(st.gid) ? 3 : 0;
  return ((st.mode >> shift) & want) === want;
}

/** Whether every directory above `path` can be traversed by uid/gids. */
function reachable(path: string, uid: number, gids: number[]): boolean {
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if (!permits(statSync(dir), uid, gids, constants.X_OK)) return false;
    if (dir === dirname(dir)) return true;
  }
}

/** Decides who runs a QEMU that opens `files`. Never throws. */
export function chooseQemuUser(files: QemuFiles, env: NodeJS.ProcessEnv = process.env): QemuUser {
  const self = process.getuid?.() ?? 0;
  const uid = configuredQemuUid(env);
  if (self !== 0) return { groups: [], reason: `hearth runs as uid ${self}: QEMU runs as the same user` };
  if (uid === 0) return { groups: [], reason: 'QEMU runs as root: HEARTH_QEMU_UID=0' };
  try {
    const groups = files.kvm ? [statSync('/dev/kvm').gid] : [];
    const gids = [uid, ...groups];
    const denied = (path: string, want: number) =>
      !reachable(path, uid, gids) || !permits(statSync(path), uid, gids, want);
    const blocked =
      files.read.find((f) => denied(f, constants.R_OK)) ??
      files.write.find((f) => denied(f, constants.R_OK | constants.W_OK)) ??
      files.dirs.find((d) => !reachable(d, uid, gids)) ??
      (files.kvm && denied('/dev/kvm', constants.R_OK | constants.W_OK) ? '/dev/kvm' : undefined);
    if (blocked) return { groups: [], reason: `QEMU runs as root: uid ${uid} cannot reach ${blocked}` };
    return { uid, gid: uid, groups, reason: `QEMU runs as uid ${uid}` };
  } catch (err) {
    return { groups: [], reason: `QEMU runs as root: ${(err as Error).message}` };
  }
}

/** Gives `user` a file or directory hearth made for one VM (its sockets dir, a template RAM file). */
export function grant(dir: string, user: QemuUser): void {
  if (user.uid !== undefined && user.gid !== undefined) chownSync(dir, user.uid, user.gid);
}

/**
 * Hands a template's RAM file to QEMU's user when hearth is root (a template saved while QEMU
 * still ran as root belongs to root, and a clone must open it read-write). Best effort.
 */
export function handToQemu(path: string, env: NodeJS.ProcessEnv = process.env): void {
  const uid = configuredQemuUid(env);
  if (process.getuid?.() !== 0 || uid === 0) return;
  try {
    if (statSync(path).uid !== uid) chownSync(path, uid, uid);
  } catch {}
}

const warned = new Set<string>();

/** Says once per reason that QEMU could not drop root. */
export function warnIfRoot(user: QemuUser): void {
  if (user.uid !== undefined || warned.has(user.reason) || !user.reason.startsWith('QEMU runs as root'))
    return;
  warned.add(user.reason);
  process.emitWarning(`qemu: ${user.reason}`);
}
