import type { AgentClient } from '../../agent/client.js';
import type { BackendName, Sandbox, SandboxSpec } from '../backend.js';
import { AgentWatchdog } from './agent-watchdog.js';

/**
 * A sandbox that is a host process with the agent on a stream: destroy() closes the agent, then
 * runs the backend's `release` (stop the process, free cgroups, dirs, the ledger record). Once only.
 * An agent that breaks the protocol, stops answering or lets an exec pass its deadline ends the
 * sandbox at once (the watchdog), so a stopped agent holds nothing for longer than its own job.
 */
export class AgentSandbox implements Sandbox {
  #closing: Promise<void> | undefined;
  readonly #watchdog: AgentWatchdog;

  constructor(
    readonly backend: BackendName,
    readonly id: string,
    readonly spec: Readonly<SandboxSpec>,
    readonly agent: AgentClient,
    private readonly release: () => Promise<void>,
  ) {
    this.#watchdog = new AgentWatchdog(agent, () => void this.destroy());
  }

  destroy(): Promise<void> {
    this.#closing ??= (async () => {
      this.#watchdog.stop();
      await this.agent.close().catch(() => {});
      await this.release();
    })();
    return this.#closing;
  }
}
