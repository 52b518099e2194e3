import { hearthPaths } from '../../config/paths.js';
import { HearthError } from '../../errors/hearth-error.js';
import { MemoryLedger } from '../../host/ledger.js';
import { ensureRunDir } from '../../host/run-dir.js';
import { requireImage } from '../../images/store.js';
import { ensureTools } from '../../images/tools.js';
import { ensureVmArtefacts } from '../../images/vm/artefacts.js';
import { ensureInitramfs } from '../../images/vm/initramfs.js';
import { ensureKernel, findKernel } from '../../images/vm/kernel.js';
import type {
  BackendOptions,
  Capability,
  Probe,
  Sandbox,
  SandboxBackend,
  SandboxSpec,
  SnapshotInfo,
} from '../backend.js';
import { type AccelVerdict, chooseAccel, getQemuVersion } from './accel.js';
import { coldBoot, type LaunchContext, type RestoreOptions, restore, type VmShape } from './launch.js';
import { WarmPool } from './pool.js';
import type { Accelerator } from './qemu-args.js';
import { QemuSandbox } from './qemu-sandbox.js';
import { vmToRestore } from './qemu-snapshot.js';
import { chooseQemuUser } from './qemu-user.js';
import { parseMemoryShapes, shapeFor } from './shapes.js';
import { ensureTemplate, type Template } from './template.js';
import { warmCommands, warmUp } from './warm-up.js';

/** Nice level of VMs restored for the pool: a refill yields the CPU to VMs running jobs. */
const POOL_NICE = 10;
const CAPABILITIES: readonly Capability[] = ['vm-isolation', 'memory-snapshots', 'warm-pool'];

export interface QemuBackendOptions extends BackendOptions {
  /** Ready VMs kept per template. `HEARTH_QEMU_POOL`; @default 1 */
  poolSize?: number;
  /** Restore from templates (else every sandbox cold boots). `HEARTH_QEMU_TEMPLATES=0` turns it off. @default true */
  templates?: boolean;
  /**
   * Warm-up commands a pooled VM runs before it is handed out (the image's first ones: its main
   * interpreter). `HEARTH_QEMU_POOL_WARM`; @default 1
   */
  poolWarm?: number;
  /**
   * Template RAM in a file that clones map copy-on-write. `HEARTH_QEMU_SHARED_MEMORY=0` turns it
   * off (every clone then copies the template's memory). @default true
   */
  sharedMemory?: boolean;
  /** VM memory shapes in MiB; a spec is rounded up to one. `HEARTH_QEMU_MEMORY_MB`; @default [256, 512, 1024] */
  memoryShapesMb?: readonly number[];
  /** Force an accelerator instead of probing. `HEARTH_QEMU_ACCEL`. */
  accel?: Accelerator;
}

function envAccel(): Accelerator | undefined {
  const v = process.env.HEARTH_QEMU_ACCEL;
  return v === 'kvm' || v === 'tcg' ? v : undefined;
}

function templateFiles(t: Template): Pick<RestoreOptions, 'stateFile' | 'memoryFile'> {
  return { stateFile: t.stateFile, ...(t.memoryFile ? { memoryFile: t.memoryFile } : {}) };
}

export interface QemuBackend extends SandboxBackend {
  /** Resolves once the warm pool for `image` (in the shape of `spec`) holds its ready VMs. */
  poolReady(image: string, spec?: SandboxSpec): Promise<void>;
  close(): Promise<void>;
}

export function createQemuBackend(opts: QemuBackendOptions = {}): QemuBackend {
  const paths = opts.paths ?? hearthPaths();
  const ledger = opts.ledger ?? new MemoryLedger();
  const poolSize = opts.poolSize ?? Number(process.env.HEARTH_QEMU_POOL ?? 1);
  const useTemplates = opts.templates ?? process.env.HEARTH_QEMU_TEMPLATES !== '0';
  const force = opts.accel ?? envAccel();
  const poolWarm = opts.poolWarm ?? Number(process.env.HEARTH_QEMU_POOL_WARM ?? 1);
  const sharedMemory = opts.sharedMemory ?? process.env.HEARTH_QEMU_SHARED_MEMORY !== '0';
  const shapesMb = opts.memoryShapesMb
    ? parseMemoryShapes(opts.memoryShapesMb.join(','))
    : parseMemoryShapes(process.env.HEARTH_QEMU_MEMORY_MB);
  const contexts = new Map<string, Promise<LaunchContext>>();
  const pools = new Map<string, WarmPool>();
  const live = new Set<QemuSandbox>();
  let accel: Promise<AccelVerdict> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;

  async function verdict(): Promise<AccelVerdict> {
    accel ??= (async () => {
      const kernel = await ensureKernel({ paths });
      const initramfs = ensureInitramfs({ kernel, paths });
      const { shim } = await ensureTools({ paths });
      return chooseAccel({ paths, kernel, initrd: initramfs.path, shim, ...(force ? { force } : {}) });
    })();
    accel.catch(() => {
      accel = undefined;
    });
    return accel;
  }

  function context(image: string): Promise<LaunchContext> {
    let c = contexts.get(image);
    if (!c) {
      c = (async () => {
        const built = requireImage(image, { paths });
        const tools = await ensureTools({ paths });
        const [artefacts, acc] = await Promise.all([
          ensureVmArtefacts({ image: built, tools, paths }),
          verdict(),
        ]);
        return { paths, ledger, artefacts, accel: acc, sharedMemory, shim: tools.shim };
      })();
      c.catch(() => contexts.delete(image));
      contexts.set(image, c);
    }
    return c;
  }

  async function poolFor(image: string, shape: VmShape): Promise<WarmPool | undefined> {
    if (!useTemplates) return undefined;
    const key = `${image}|${shape.vcpus}|${shape.memoryMb}|${shape.diskMb}`;
    let pool = pools.get(key);
    if (!pool) {
      const ctx = await context(image);
      const template = await ensureTemplate(ctx, image, shape, { warm: warmCommands(image) });
      if (closed) return undefined;
      pool = pools.get(key);
      if (!pool) {
        pool = new WarmPool({
          size: poolSize,
          onError: (err) => process.emitWarning(`qemu warm pool for ${image}: ${(err as Error).message}`),
          make: async () => {
            const sb = new QemuSandbox(
              await restore(ctx, shape, {
                ...templateFiles(template),
                labels: { pool: image },
                nice: POOL_NICE,
              }),
              { image },
            );
            // A pooled VM runs the image's first interpreter once, so QEMU has translated its code
            // (under TCG) before a job's first program runs.
            await warmUp(sb.agent, warmCommands(image).slice(0, poolWarm)).catch(() => {});
            return sb;
          },
        });
        pools.set(key, pool);
      }
    }
    return pool;
  }

  function track(sb: QemuSandbox): QemuSandbox {
    live.add(sb);
    const destroy = sb.destroy.bind(sb);
    sb.destroy = () => destroy().finally(() => live.delete(sb));
    return sb;
  }

  return {
    name: 'qemu',
    capabilities: () => CAPABILITIES,

    async probe(): Promise<Probe> {
      let version: string;
      try {
        version = await getQemuVersion();
      } catch {
        return {
          usable: false,
          reason: 'qemu-system-x86_64 not installed (apt-get install qemu-system-x86)',
        };
      }
      const details: Record<string, string> = { qemu: version };
      if (!findKernel(paths)) details.kernel = 'not prepared yet (downloaded at first use)';
      try {
        const v = await verdict();
        details.accelerator = v.accel;
        details.kernel = v.key.split('|')[0] ?? '';
        const kernel = findKernel(paths);
        // The run dir is made on first use, with a mode that lets QEMU's uid through; on a fresh
        // machine the probe comes first and must judge that dir, not its absence.
        ensureRunDir(paths.run);
        details.user = chooseQemuUser({
          read: kernel ? [kernel.vmlinuz] : [],
          write: [],
          dirs: [paths.run],
          kvm: v.accel === 'kvm',
        }).reason;
        return { usable: true, reason: `qemu: ${v.reason}`, details };
      } catch (err) {
        return { usable: false, reason: `qemu: ${(err as Error).message}`, details };
      }
    },

    async create(spec: SandboxSpec, createOpts: { signal?: AbortSignal } = {}): Promise<Sandbox> {
      if (closed) throw new HearthError('SHUTTING_DOWN', 'the qemu backend is closed');
      const shape = shapeFor(spec, shapesMb);
      const pool = await poolFor(spec.image, shape);
      const ready = pool?.take();
      const labels = spec.labels ?? {};
      if (ready) {
        ready.vm.prioritize();
        ready.vm.relabel(labels);
        return track(ready.withSpec(spec));
      }
      const ctx = await context(spec.image);
      const signal = createOpts.signal;
      const launched = pool
        ? await restore(ctx, shape, {
            ...templateFiles(
              await ensureTemplate(ctx, spec.image, shape, { warm: warmCommands(spec.image) }),
            ),
            labels,
            ...(signal ? { signal } : {}),
          })
        : await coldBoot(ctx, shape, { labels, ...(signal ? { signal } : {}) });
      return track(new QemuSandbox(launched, spec));
    },

    /**
     * A new VM started from a memory snapshot (`-incoming` from its state file) in the snapshot's
     * shape, then told its new id, the clock and fresh entropy, as a template's clone is.
     */
    async restore(snap: SnapshotInfo, spec: SandboxSpec, restoreOpts: { signal?: AbortSignal } = {}) {
      if (closed) throw new HearthError('SHUTTING_DOWN', 'the qemu backend is closed');
      const ctx = await context(spec.image);
      const { shape, stateFile, namedRam } = await vmToRestore(snap, ctx, {
        qemuVersion: await getQemuVersion(),
        image: spec.image,
      });
      const signal = restoreOpts.signal;
      const launched = await restore(ctx, shape, {
        stateFile,
        namedRam,
        loadError: (cause) =>
          new HearthError('SNAPSHOT_MISSING', `the snapshot in ${snap.dir} is damaged: ${cause.message}`, {
            cause,
          }),
        labels: spec.labels ?? {},
        ...(signal ? { signal } : {}),
      });
      return track(new QemuSandbox(launched, spec));
    },

    /** Resolves once the warm pool for `image` (in the shape of `spec`) holds its ready VMs. */
    async poolReady(image: string, spec: SandboxSpec = { image }): Promise<void> {
      const pool = await poolFor(image, shapeFor(spec, shapesMb));
      pool?.fill();
      await pool?.whenFull();
    },

    close(): Promise<void> {
      closed = true;
      closing ??= (async () => {
        await Promise.allSettled([...pools.values()].map((p) => p.drain()));
        pools.clear();
        await Promise.allSettled([...live].map((s) => s.destroy()));
      })();
      return closing;
    },
  };
}
