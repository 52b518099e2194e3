import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { chmod, copyFile, link, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { distDir, type HearthPaths, hearthPaths } from '../config/paths.js';
import { HearthError } from '../errors/hearth-error.js';
import { sandboxFilterBytes } from '../host/seccomp.js';
import { findUsers, pidAlive } from './in-use.js';
import { removeTree } from './remove-tree.js';

/**
 * The tools layer: what every sandbox gets read-only at /.hearth, whatever its image — a copy of
 * the host's Node binary, the guest agent bundle, the interpreter-context drivers and the exec shim.
 * Kept apart from images so a new agent never rebuilds an image.
 *
 * Both binaries are execute-only (0711, owned by whoever runs hearth, never a sandbox uid): the
 * kernel makes a process that execs a binary its user cannot read non-dumpable, and a non-dumpable
 * process is out of reach of its own uid — no /proc/<pid>/mem, /proc/<pid>/fd, ptrace nor
 * pidfd_getfd. So the agent, its exec server and every shim, which hold the channel to the host and
 * the exec reports, cannot be taken over by the programs they run as the same uid.
 */
export interface ToolsLayer {
  /** `<paths.tools>/<hash>`: mount it read-only at /.hearth. */
  dir: string;
  hash: string;
  /** `<dir>/bin/node` */
  node: string;
  /** `<dir>/agent.js` */
  agent: string;
  /** `<dir>/bin/hearth-exec` */
  shim: string;
  /** `<dir>/seccomp.bpf`: the sandbox filter, which the shim loads for programs in a microVM. */
  seccomp: string;
  /**
   * `<dir>/readable-bin`: node and hearth-exec readable by all, for gVisor, whose loader refuses a
   * binary its user cannot read. gVisor needs no exec-only binaries: there a program's
   * /proc/<pid>/mem, /proc/<pid>/fd and pidfd reach no other process's channel.
   */
  readableBin: string;
}

export interface EnsureToolsOptions {
  /** @default hearthPaths() */
  paths?: HearthPaths;
  /** Where agent.js and hearth-exec are. @default distDir() */
  distDir?: string;
  /** The Node binary to ship. @default process.execPath */
  nodePath?: string;
}

/** Versions of the tools layer kept on disk (the newest by time of creation). */
export const TOOLS_KEEP = 3;

/** Files of dist/ copied beside agent.js: the interpreter-context drivers the agent starts. */
const DRIVERS = ['repl-python.py', 'repl-node.js'] as const;

const memo = new Map<string, ToolsLayer>();

function layerAt(dir: string, hash: string): ToolsLayer {
  return {
    dir,
    hash,
    node: join(dir, 'bin/node'),
    agent: join(dir, 'agent.js'),
    shim: join(dir, 'bin/hearth-exec'),
    seccomp: join(dir, 'seccomp.bpf'),
    readableBin: join(dir, 'readable-bin'),
  };
}

function sourceStat(path: string): { mtimeMs: number; size: number } {
  try {
    return statSync(path);
  } catch {
    throw new HearthError(
      'SANDBOX_START_FAILED',
      `${path} is missing: the tools layer needs the agent bundle and exec shim`,
      {
        hint: 'Run `npm run build` in the hearth checkout to produce dist/agent.js and dist/hearth-exec.',
      },
    );
  }
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

/** Mode of the binaries: executable by anyone, readable by their owner only (see above). */
const EXEC_ONLY = 0o711;
/** Changes whenever the layer's layout or modes change, so an older layer is never reused. */
const LAYOUT = 'exec-only-2';

/** Tools layers being written by this process, by directory. */
const building = new Map<string, Promise<void>>();

/**
 * Returns the tools layer for the current agent, shim and Node, creating it if needed (atomically:
 * written to a temp dir, then renamed). Fast when present: stats, and a memo keyed by mtimes.
 */
export async function ensureTools(opts: EnsureToolsOptions = {}): Promise<ToolsLayer> {
  const paths = opts.paths ?? hearthPaths();
  const dist = opts.distDir ?? distDir();
  const nodePath = opts.nodePath ?? process.execPath;
  const agentSrc = join(dist, 'agent.js');
  const shimSrc = join(dist, 'hearth-exec');
  const a = sourceStat(agentSrc);
  const s = sourceStat(shimSrc);
  const n = statSync(nodePath);
  const drivers = DRIVERS.map((d) => join(dist, d));
  const d = drivers.map((p) => sourceStat(p));
  const key = [
    paths.tools,
    agentSrc,
    a.mtimeMs,
    a.size,
    shimSrc,
    s.mtimeMs,
    s.size,
    nodePath,
    n.size,
    ...d.flatMap((st) => [st.mtimeMs, st.size]),
  ].join('|');
  const known = memo.get(key);
  if (known && (await stat(known.dir).catch(() => undefined))) return known;

  const h = createHash('sha256')
    .update(await readFile(agentSrc))
    .update('\0')
    .update(await readFile(shimSrc))
    .update(`\0${process.version}\0${n.size}\0${LAYOUT}\0`)
    .update(sandboxFilterBytes());
  for (const p of drivers) h.update('\0').update(await readFile(p));
  const hash = h.digest('hex').slice(0, 16);
  const layer = layerAt(join(paths.tools, hash), hash);
  if (!(await stat(layer.agent).catch(() => undefined))) {
    // One build per layer in this process: concurrent callers (a pool refill beside a create) would
    // share the same temp dir, and one's cleanup would pull it from under the other.
    let build = building.get(layer.dir);
    if (!build) {
      build = (async () => {
        await mkdir(paths.tools, { recursive: true });
        const tmp = join(paths.tools, `.tmp-${hash}-${process.pid}`);
        try {
          await removeTree(tmp);
          await mkdir(join(tmp, 'bin'), { recursive: true });
          // A copy, never a link: the mode must not change the host's own Node.
          await copyFile(nodePath, join(tmp, 'bin/node'));
          await chmod(join(tmp, 'bin/node'), EXEC_ONLY);
          await copyFile(shimSrc, join(tmp, 'bin/hearth-exec'));
          await chmod(join(tmp, 'bin/hearth-exec'), EXEC_ONLY);
          await mkdir(join(tmp, 'readable-bin'));
          await linkOrCopy(nodePath, join(tmp, 'readable-bin/node'));
          await copyFile(shimSrc, join(tmp, 'readable-bin/hearth-exec'));
          await chmod(join(tmp, 'readable-bin/hearth-exec'), 0o755);
          await copyFile(agentSrc, join(tmp, 'agent.js'));
          for (const [i, p] of drivers.entries()) await copyFile(p, join(tmp, DRIVERS[i] as string));
          await writeFile(join(tmp, 'seccomp.bpf'), sandboxFilterBytes());
          await rename(tmp, layer.dir).catch(async (err: NodeJS.ErrnoException) => {
            // Another process made the same layer first: theirs is identical.
            if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
          });
        } finally {
          await removeTree(tmp);
        }
        await pruneTools(paths, layer.dir);
      })().finally(() => building.delete(layer.dir));
      building.set(layer.dir, build);
    }
    await build;
  }
  memo.set(key, layer);
  return layer;
}

/** Removes tools layers beyond the newest TOOLS_KEEP, never `keep` nor one a live process uses. */
async function pruneTools(paths: HearthPaths, keep: string): Promise<void> {
  const entries = await readdir(paths.tools);
  const dated: { dir: string; at: number }[] = [];
  for (const entry of entries) {
    const dir = join(paths.tools, entry);
    const tmp = /^\.tmp-[0-9a-f]{16}-(\d+)$/.exec(entry);
    if (tmp) {
      if (!pidAlive(Number(tmp[1]))) await removeTree(dir);
      continue;
    }
    if (!/^[0-9a-f]{16}$/.test(entry)) continue;
    const st = await stat(dir).catch(() => undefined);
    if (st) dated.push({ dir, at: st.birthtimeMs || st.ctimeMs });
  }
  // Newest first, the layer just made before all (creation times can tie).
  dated.sort((x, y) => Number(y.dir === keep) - Number(x.dir === keep) || y.at - x.at);
  for (const { dir } of dated.slice(TOOLS_KEEP)) {
    if (dir !== keep && findUsers(dir).length === 0) await removeTree(dir);
  }
}
