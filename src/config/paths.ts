import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where hearth keeps what outlives a process: images, VM artefacts, the database, runtime files. */
export interface HearthPaths {
  /** Root of everything. `HEARTH_HOME`; @default /var/lib/hearth as root, else ~/.local/share/hearth */
  home: string;
  /** Built image root filesystems: `<images>/<name>-<hash>/`. */
  images: string;
  /** The tools layer mounted at /.hearth in every sandbox (node, agent bundle, exec shim). */
  tools: string;
  /** Kernels, initramfs, erofs images, VM templates. */
  vm: string;
  /** Download caches (Debian packages). */
  cache: string;
  /** Sockets, per-sandbox temp dirs; reaped at start-up. `HEARTH_RUN_DIR` */
  run: string;
  /** The SQLite database file. `HEARTH_DB` */
  db: string;
}

export function hearthPaths(env: NodeJS.ProcessEnv = process.env): HearthPaths {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const home = env.HEARTH_HOME || (isRoot ? '/var/lib/hearth' : join(homedir(), '.local/share/hearth'));
  return {
    home,
    images: join(home, 'images'),
    tools: join(home, 'tools'),
    vm: join(home, 'vm'),
    cache: join(home, 'cache'),
    run: env.HEARTH_RUN_DIR || join(home, 'run'),
    db: env.HEARTH_DB || join(home, 'hearth.db'),
  };
}

let root: string | undefined;

/** The hearth checkout (or installed package) this code runs from, found from this file up. */
export function projectRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'hearth') {
      root = dir;
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the hearth package root above ' + import.meta.url);
    dir = up;
  }
}

/** Where the agent bundle and the exec shim are after `npm run build`. */
export function distDir(): string {
  return join(projectRoot(), 'dist');
}
