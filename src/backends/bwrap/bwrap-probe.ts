import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { distDir, type HearthPaths } from '../../config/paths.js';
import { detectCgroups } from '../../host/cgroups.js';
import { findImage } from '../../images/store.js';
import type { Probe } from '../backend.js';

const run = promisify(execFile);

/**
 * Is bwrap usable here: the binary answers, a sandbox with every namespace unshared runs `true`
 * within `deadlineMs`, and the exec shim and agent are built. A missing default image leaves it
 * usable (runs will say what to build), but the reason says so.
 */
export async function probeBwrap(o: {
  paths: HearthPaths;
  bwrap: string;
  deadlineMs?: number;
}): Promise<Probe> {
  const deadlineMs = o.deadlineMs ?? 4000;
  const details: Record<string, string> = {};
  try {
    const { stdout } = await run(o.bwrap, ['--version'], { timeout: deadlineMs });
    details.version = stdout.trim();
  } catch (err) {
    return {
      usable: false,
      reason: `bwrap not found or not runnable (${(err as Error).message.split('\n')[0]}): apt-get install bubblewrap`,
    };
  }
  const image = findImage('default', { paths: o.paths });
  const root = image?.rootfs ?? '/';
  try {
    await run(
      o.bwrap,
      [
        // Sandboxes also lock further user namespaces away (bwrap ≥ 0.8): a bwrap without it is unusable.
        '--unshare-user',
        '--unshare-all',
        '--disable-userns',
        '--die-with-parent',
        '--ro-bind',
        root,
        '/',
        '--proc',
        '/proc',
        '--dev',
        '/dev',
        '--uid',
        '1000',
        '--',
        'true',
      ],
      { timeout: deadlineMs },
    );
  } catch (err) {
    const e = err as { killed?: boolean; stderr?: string; message: string };
    const why = e.killed
      ? `did not finish within ${deadlineMs} ms`
      : (e.stderr || e.message).trim().split('\n')[0];
    return {
      usable: false,
      reason: `bwrap cannot create a sandbox here: ${why} (are unprivileged user namespaces enabled?)`,
      details,
    };
  }
  const cg = detectCgroups();
  details.cgroups = cg.reason;
  const dist = distDir();
  const missing = ['agent.js', 'hearth-exec'].filter((f) => !existsSync(join(dist, f)));
  if (missing.length) {
    return {
      usable: false,
      reason: `${missing.map((f) => `dist/${f}`).join(' and ')} missing: run \`npm run build\``,
      details,
    };
  }
  if (!image)
    return { usable: true, reason: 'usable; image default not built: hearth images build default', details };
  details.image = image.dir;
  return {
    usable: true,
    reason: `usable (namespaces${cg.mode === 'none' ? ', rlimits only' : `, cgroup ${cg.mode} limits`})`,
    details,
  };
}
