import { SANDBOX_USER } from '../../agent/sandbox-user.js';

export interface OciSpecOptions {
  /** The image's root filesystem, read-only root of the container. */
  rootfs: string;
  /** The tools layer, bind-mounted read-only at /.hearth. */
  toolsDir: string;
  /** Readable node and hearth-exec, bind-mounted read-only over /.hearth/bin. */
  readableBin: string;
  /** Size of each of the /work and /tmp tmpfs mounts. */
  diskMb: number;
  /** RLIMIT_NPROC of the container: the user's processes plus the agent's own tasks. */
  maxProcesses: number;
  env: Record<string, string>;
  args: string[];
}

/**
 * The OCI runtime spec (config.json) of a gVisor sandbox: the image read-only, /.hearth bound
 * read-only, size-limited tmpfs /work and /tmp, pid/net/ipc/uts/mount namespaces — and no user
 * namespace (the runsc Debian ships refuses one here). No cgroupsPath and no resources: the host
 * cgroup hearth starts runsc in holds the whole sandbox (see gvisor-limits.ts).
 */
export function ociSpec(o: OciSpecOptions): Record<string, unknown> {
  const tmpfs = (dest: string, mode: string) => ({
    destination: dest,
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nosuid', 'nodev', `mode=${mode}`, `size=${o.diskMb}m`],
  });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: SANDBOX_USER.uid, gid: SANDBOX_USER.gid },
      args: o.args,
      env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
      cwd: SANDBOX_USER.workDir,
      noNewPrivileges: true,
      capabilities: { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] },
      rlimits: [
        { type: 'RLIMIT_NOFILE', hard: 4096, soft: 4096 },
        // gVisor enforces this for the sandbox user: the guest's own process bound.
        { type: 'RLIMIT_NPROC', hard: o.maxProcesses, soft: o.maxProcesses },
      ],
    },
    root: { path: o.rootfs, readonly: true },
    hostname: 'sandbox',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      { destination: '/.hearth', type: 'bind', source: o.toolsDir, options: ['rbind', 'ro'] },
      // gVisor will not exec the layer's execute-only binaries (see images/tools.ts).
      { destination: '/.hearth/bin', type: 'bind', source: o.readableBin, options: ['rbind', 'ro'] },
      tmpfs(SANDBOX_USER.workDir, '0777'),
      tmpfs('/tmp', '1777'),
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
    },
  };
}
