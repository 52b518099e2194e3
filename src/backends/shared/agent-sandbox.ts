import type { AgentClient } from '../../agent/client.js';
import type { BackendName, Sandbox, SandboxSpec, SnapshotInfo, SnapshotOptions } from '../backend.js';
import { AgentWatchdog } from './agent-watchdog.js';
import { saveWritableFiles } from './fs-snapshot.js';
import { checkTargetDir, kindUnsupported } from './snapshot-checks.js';

/** SandboxSpec's default `diskMb`: the size of each writable mount. */
const DEFAULT_DISK_MB = 256;

/**
 * A sandbox that is a host process with the agent on a stream: destroy() closes the agent, then
 * runs the backend's `release` (stop the process, free cgroups, dirs, the ledger record). Once only.
 * An agent that breaks the protocol, stops answering or lets an exec pass its deadline ends the
 * sandbox at once (the watchdog), so a stopped agent holds nothing for longer than its own job.
 * Its snapshots are of the filesystem kind: the writable mounts, packed inside the sandbox.
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

  async snapshot(opts: SnapshotOptions): Promise<SnapshotInfo> {
    if (opts.kind !== 'filesystem') throw kindUnsupported(this.backend, opts.kind, 'filesystem');
    checkTargetDir(opts.dir);
    const createdAt = new Date().toISOString();
    const diskMb = this.spec.diskMb || DEFAULT_DISK_MB;
    const { sizeBytes, meta } = await saveWritableFiles(this.agent, { dir: opts.dir, diskMb });
    return { dir: opts.dir, kind: 'filesystem', backend: this.backend, sizeBytes, createdAt, meta };
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
