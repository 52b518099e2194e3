import type { AgentClient } from '../agent/client.js';
import type { BackendName, Sandbox, SandboxSpec } from '../backends/backend.js';

/**
 * A sandbox that is a host process with the agent on a stream: destroy() closes the agent, then
 * runs the backend's `release` (stop the process, free cgroups, dirs, the ledger record). Once only.
 */
export class AgentSandbox implements Sandbox {
  #closing: Promise<void> | undefined;

  constructor(
    readonly backend: BackendName,
    readonly id: string,
    readonly spec: Readonly<SandboxSpec>,
    readonly agent: AgentClient,
    private readonly release: () => Promise<void>,
  ) {}

  destroy(): Promise<void> {
    this.#closing ??= (async () => {
      await this.agent.close().catch(() => {});
      await this.release();
    })();
    return this.#closing;
  }
}
