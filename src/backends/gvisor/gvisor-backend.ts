import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type HearthPaths, hearthPaths } from '../../config/paths.js';
import { MemoryLedger } from '../../host/ledger.js';
import { findImage, requireImage } from '../../images/store.js';
import { ensureTools } from '../../images/tools.js';
import type { BackendOptions, Capability, Probe, Sandbox, SandboxBackend, SandboxSpec } from '../backend.js';
import { restoreWritableFiles } from '../shared/fs-snapshot.js';
import { runscBinary } from './runsc.js';

const run = promisify(execFile);

async function probeGvisor(paths: HearthPaths, deadlineMs = 6000): Promise<Probe> {
  const details: Record<string, string> = {};
  try {
    const { stdout } = await run(runscBinary(), ['--version'], { timeout: deadlineMs });
    details.version = stdout.split('\n')[0]?.trim() ?? '';
  } catch (err) {
    return {
      usable: false,
      reason: `runsc not found (${(err as Error).message.split('\n')[0]}): apt-get install runsc`,
    };
  }
  if (process.getuid?.() !== 0)
    return {
      usable: false,
      reason: 'runsc run needs root here (no rootless OCI support with cgroups)',
      details,
    };
  try {
    await run(runscBinary(), ['--rootless', '--network=none', 'do', 'true'], { timeout: deadlineMs });
  } catch (err) {
    const e = err as { killed?: boolean; stderr?: string; message: string };
    const why = e.killed
      ? `did not finish within ${deadlineMs} ms`
      : (e.stderr || e.message).trim().split('\n').pop();
    return { usable: false, reason: `runsc cannot start a sandbox here: ${why}`, details };
  }
  details.platform = 'ptrace';
  if (!findImage('default', { paths }))
    return { usable: true, reason: 'usable; image default not built: hearth images build default', details };
  return { usable: true, reason: 'usable (gVisor user-space kernel, ptrace platform)', details };
}

/**
 * The gVisor backend: runsc on an OCI bundle generated per sandbox (the image read-only, tmpfs
 * /work and /tmp, no network interfaces, memory and pids limits), the agent on its stdio. Snapshots
 * are of /work and /tmp (shared/fs-snapshot.ts): the sentry's memory is not saved.
 */
export function createGvisorBackend(opts: BackendOptions = {}): SandboxBackend {
  const paths = opts.paths ?? hearthPaths();
  const ledger = opts.ledger ?? new MemoryLedger();
  async function create(spec: SandboxSpec, createOpts?: { signal?: AbortSignal }): Promise<Sandbox> {
    const image = requireImage(spec.image, { paths });
    const tools = await ensureTools({ paths });
    const { startGvisorSandbox } = await import('./gvisor-sandbox.js');
    return startGvisorSandbox(
      {
        run: paths.run,
        ledger,
        rootfs: image.rootfs,
        toolsDir: tools.dir,
        readableBin: tools.readableBin,
        shim: tools.shim,
      },
      spec,
      createOpts?.signal,
    );
  }
  return {
    name: 'gvisor',
    probe: () => probeGvisor(paths),
    capabilities(): readonly Capability[] {
      return ['syscall-isolation', 'cgroup-limits', 'fs-snapshots'];
    },
    create,
    restore: (snap, spec, restoreOpts) =>
      restoreWritableFiles({
        backend: 'gvisor',
        snap,
        signal: restoreOpts?.signal,
        create: () => create(spec, restoreOpts),
      }),
  };
}
