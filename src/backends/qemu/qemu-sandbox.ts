import type { AgentClient, ExecHandlers, RunRequest } from '../../agent/client.js';
import type { ExecRequest } from '../../agent/protocol.js';
import { HearthError } from '../../errors/hearth-error.js';
import type { BackendName, Sandbox, SandboxSpec, SnapshotInfo, SnapshotOptions } from '../backend.js';
import { AgentWatchdog } from '../shared/agent-watchdog.js';
import { kindUnsupported } from '../shared/snapshot-checks.js';
import type { LaunchedVm, VmBuild } from './launch.js';
import { saveVm } from './qemu-snapshot.js';
import type { QemuVm } from './qemu-vm.js';

/** A running microVM with its connected agent. */
export class QemuSandbox implements Sandbox {
  readonly id: string;
  readonly backend: BackendName = 'qemu';
  #spec: Readonly<SandboxSpec>;
  readonly agent: AgentClient;
  readonly vm: QemuVm;
  /** What the VM was started from (a snapshot records it). */
  readonly build: VmBuild;
  /** The image the VM runs (a pooled VM's is known before its spec). */
  readonly #image: string;
  /** The save in progress: saves of one VM run one at a time. */
  #saving: Promise<unknown> = Promise.resolve();
  #destroying: Promise<void> | undefined;
  readonly #watchdog: AgentWatchdog;

  constructor(launched: LaunchedVm, spec: SandboxSpec) {
    this.id = launched.id;
    this.vm = launched.vm;
    this.build = launched.build;
    this.#image = spec.image;
    this.#spec = Object.freeze({ ...spec });
    this.agent = withBaseEnv(launched.agent, () => this.#spec.env);
    // A VM that dies on its own (guest panic, OOM of QEMU) frees its host resources at once.
    launched.agent.onClose(() => {
      if (this.vm.exited) void this.destroy();
    });
    // An agent that breaks the protocol, stops answering (a stopped agent or relay) or lets an exec
    // pass its host deadline ends the VM.
    this.#watchdog = new AgentWatchdog(launched.agent, () => void this.destroy(), this.vm.watchdog);
  }

  get spec(): Readonly<SandboxSpec> {
    return this.#spec;
  }

  /** Hands a pooled VM to its user: it now answers for `spec`. */
  withSpec(spec: SandboxSpec): this {
    this.#spec = Object.freeze({ ...spec });
    return this;
  }

  /**
   * A memory snapshot (qemu-snapshot.ts); the VM runs on. The filesystem kind is refused: the
   * guest's files live in its RAM, so a memory snapshot already holds them.
   */
  snapshot(opts: SnapshotOptions): Promise<SnapshotInfo> {
    if (opts.kind !== 'memory') return Promise.reject(kindUnsupported('qemu', opts.kind, 'memory'));
    const save = this.#saving.then(() => {
      if (this.#destroying) throw new HearthError('SANDBOX_LOST', `sandbox ${this.id} is being destroyed`);
      return saveVm({ vm: this.vm, agent: this.agent, build: this.build, image: this.#image, dir: opts.dir });
    });
    this.#saving = save.catch(() => {});
    return save;
  }

  /** Closes the agent, stops QEMU, removes sockets, temp dir and ledger record. Never throws. */
  destroy(): Promise<void> {
    this.#destroying ??= (async () => {
      this.#watchdog.stop();
      await this.agent.close().catch(() => {});
      await this.vm.destroy();
    })();
    return this.#destroying;
  }
}

/**
 * The agent as the sandbox's user sees it: every exec gets the spec's env under its own. (The VM's
 * agent started in the template, before any spec existed, so the host adds the env per exec.)
 */
function withBaseEnv(agent: AgentClient, env: () => Record<string, string> | undefined): AgentClient {
  const merge = <R extends { env?: Record<string, string> }>(req: R): R => {
    const base = env();
    return base && Object.keys(base).length ? { ...req, env: { ...base, ...req.env } } : req;
  };
  return new Proxy(agent, {
    get(target, prop) {
      if (prop === 'exec') return (req: ExecRequest, h?: ExecHandlers) => target.exec(merge(req), h);
      if (prop === 'run') return (req: RunRequest, h?: ExecHandlers) => target.run(merge(req), h);
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
