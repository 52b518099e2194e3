import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Which cgroup layout a host offers sandboxes, found under one root directory (normally
 * /sys/fs/cgroup) so that tests can point it at fixture trees of every layout.
 *
 * - v2: the unified tree at the root offers `memory` and `pids`; one `hearth/` group holds all.
 * - v1: each controller is its own hierarchy, mounted alone (`memory/`, `pids/`, `cpuacct/`) or
 *   co-mounted with others (`cpu,cpuacct/`, with or without `cpu` and `cpuacct` symlinks to it).
 *   `memory` and `pids` are required; `cpuacct` gives CPU time where it is mounted. A hybrid host
 *   (systemd's `unified/` tree beside the v1 hierarchies) is v1: its unified tree holds no
 *   controller hearth uses.
 * - none: no usable controllers (or not root); sandboxes rely on rlimits alone.
 */
export type CgroupMode = 'v2' | 'v1' | 'none';

export interface CgroupSupport {
  mode: CgroupMode;
  /** One line: what was found, or why cgroups cannot be used. */
  reason: string;
  /**
   * The `hearth` parent of every controller used, each created by detection (v2: one directory
   * for all three). `cpuacct` is absent on a v1 host that does not mount it.
   */
  parents?: { memory: string; pids: string; cpuacct?: string };
}

/** Name of the parent group under each hierarchy; every sandbox group is a child of it. */
export const CGROUP_PARENT = 'hearth';

/** The file that tells a v1 hierarchy carries a controller (a v1 `pids` root has no `pids.*` file). */
const V1_MARKERS = {
  memory: 'memory.limit_in_bytes',
  pids: 'cgroup.procs',
  cpuacct: 'cpuacct.usage',
} as const;
type V1Controller = keyof typeof V1_MARKERS;

function readWords(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/** The v1 hierarchy that carries `ctl`: `<root>/<ctl>` or a co-mount such as `<root>/cpu,cpuacct`. */
function v1Hierarchy(root: string, ctl: V1Controller): string | undefined {
  const marker = V1_MARKERS[ctl];
  const own = join(root, ctl);
  if (existsSync(join(own, marker))) return own;
  let names: string[] = [];
  try {
    names = readdirSync(root);
  } catch {
    return undefined;
  }
  const co = names.find((n) => n.split(',').includes(ctl) && existsSync(join(root, n, marker)));
  return co ? join(root, co) : undefined;
}

function createParents(dirs: string[]): string | undefined {
  try {
    for (const d of dirs) mkdirSync(d, { recursive: true });
    return undefined;
  } catch (err) {
    return `cannot create ${dirs.join(', ')}: ${(err as Error).message}`;
  }
}

/** Delegates memory and pids to the children of `dirs` (the root, then hearth's parent). */
function enableV2Controllers(dirs: string[]): void {
  for (const dir of dirs) {
    const file = join(dir, 'cgroup.subtree_control');
    const have = readWords(file);
    const missing = ['memory', 'pids'].filter((c) => !have.includes(c));
    if (missing.length) writeFileSync(file, missing.map((c) => `+${c}`).join(' '));
  }
}

function detectV2(root: string): CgroupSupport {
  const parent = join(root, CGROUP_PARENT);
  const failed = createParents([parent]);
  if (failed) return { mode: 'none', reason: failed };
  try {
    enableV2Controllers([root, parent]);
  } catch (err) {
    return { mode: 'none', reason: `cgroup v2: cannot enable memory+pids: ${(err as Error).message}` };
  }
  return {
    mode: 'v2',
    reason: `cgroup v2 at ${root}`,
    parents: { memory: parent, pids: parent, cpuacct: parent },
  };
}

function detectV1(root: string, memory: string, pids: string): CgroupSupport {
  const cpuacct = v1Hierarchy(root, 'cpuacct');
  const parents = {
    memory: join(memory, CGROUP_PARENT),
    pids: join(pids, CGROUP_PARENT),
    ...(cpuacct ? { cpuacct: join(cpuacct, CGROUP_PARENT) } : {}),
  };
  const failed = createParents(Object.values(parents));
  if (failed) return { mode: 'none', reason: failed };
  const rel = (d: string) => d.slice(root.length + 1);
  const found = [rel(memory), rel(pids), cpuacct ? rel(cpuacct) : 'no cpuacct (no CPU time)'];
  return { mode: 'v1', reason: `cgroup v1 at ${root}: ${found.join(', ')}`, parents };
}

/**
 * Detects the layout under `root` and creates hearth's parent group under every hierarchy it will
 * use, so creating a sandbox's group never fails for want of a parent. Depends on nothing but the
 * tree under `root`; safe to repeat.
 */
export function detectCgroupLayout(root: string): CgroupSupport {
  const unified = readWords(join(root, 'cgroup.controllers'));
  if (unified.includes('memory') && unified.includes('pids')) return detectV2(root);
  const memory = v1Hierarchy(root, 'memory');
  const pids = v1Hierarchy(root, 'pids');
  if (memory && pids) return detectV1(root, memory, pids);
  return { mode: 'none', reason: `no usable cgroup memory+pids controllers under ${root}` };
}

/**
 * Every `hearth` parent group that exists under `root` (v2's, each v1 hierarchy's, a hybrid's
 * unified one), once each even where symlinks name one hierarchy twice. Creates nothing: the
 * reaper and CI sweep these.
 */
export function existingCgroupParents(root: string): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(root);
  } catch {}
  const seen = new Map<string, string>();
  for (const dir of [join(root, CGROUP_PARENT), ...names.map((n) => join(root, n, CGROUP_PARENT))]) {
    try {
      const real = realpathSync(dir);
      if (!seen.has(real)) seen.set(real, dir);
    } catch {}
  }
  return [...seen.values()];
}
