import type { AgentClient } from '../../agent/client.js';
import type { BackendName, Sandbox, SandboxSpec } from '../backend.js';
import type { LaunchedVm } from './launch.js';
import type { QemuVm } from './qemu-vm.js';

/** A running microVM with its connected agent. */
export class QemuSandbox implements Sandbox {
  readonly id: string;
  readonly backend: BackendName = 'qemu';
  #spec: Readonly<SandboxSpec>;
  readonly agent: AgentClient;
  readonly vm: QemuVm;
  #destroying: Promise<void> | undefined;

  constructor(launched: LaunchedVm, spec: SandboxSpec) {
    this.id = launched.id;
    this.vm = launched.vm;
    this.agent = launched.agent;
    this.#spec = Object.freeze({ ...spec });
    // A VM that dies on its own (guest panic, OOM of QEMU) frees its host resources at once.
    this.agent.onClose(() => {
      if (this.vm.exited) void this.destroy();
    });
  }

  get spec(): Readonly<SandboxSpec> {
    return this.#spec;
  }

  /** Hands a pooled VM to its user: it now answers for `spec`. */
  withSpec(spec: SandboxSpec): this {
    this.#spec = Object.freeze({ ...spec });
    return this;
  }

  /** Closes the agent, stops QEMU, removes sockets, temp dir and ledger record. Never throws. */
  destroy(): Promise<void> {
    this.#destroying ??= (async () => {
      await this.agent.close().catch(() => {});
      await this.vm.destroy();
    })();
    return this.#destroying;
  }
}
