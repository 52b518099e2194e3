import type { ChildProcess } from 'node:child_process';
import { AgentClient } from '../../agent/client.js';
import { HearthError } from '../../errors/hearth-error.js';
import { SandboxCgroup } from '../../sandboxes/cgroups.js';
import { newSandboxId, processStartTime } from '../../sandboxes/sandbox-id.js';
import type { Sandbox, SandboxSpec } from '../backend.js';
import { agentCommand, bwrapArgs, sandboxEnv } from './bwrap-args.js';
import { type BwrapContext, newRecord, sizeOr } from './bwrap-context.js';
import { exited, spawnThroughShim, stopProcess } from './host-process.js';
import { TailBuffer } from './tail-buffer.js';

/** A live bwrap sandbox with the guest agent on its stdio. */
class BwrapSandbox implements Sandbox {
  readonly backend = 'bwrap' as const;
  #closing: Promise<void> | undefined;

  constructor(
    readonly id: string,
    readonly spec: Readonly<SandboxSpec>,
    readonly agent: AgentClient,
    private readonly release: () => Promise<void>,
  ) {}

  destroy(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  async #doClose(): Promise<void> {
    try {
      await this.agent.close();
    } catch {}
    await this.release();
  }
}

/** Starts bwrap with the agent inside (through the host shim: cgroups, then an unprivileged uid). */
export async function startBwrapSandbox(
  ctx: BwrapContext,
  spec: SandboxSpec,
  signal?: AbortSignal,
): Promise<Sandbox> {
  if (signal?.aborted) throw new HearthError('CANCELLED', 'sandbox creation was cancelled');
  const memoryMb = sizeOr(spec.memoryMb, 'memoryMb');
  const maxProcesses = sizeOr(spec.maxProcesses, 'maxProcesses');
  const id = newSandboxId('bwrap');
  const uid = ctx.uids.acquire();
  let cg: SandboxCgroup | undefined;
  let child: ChildProcess | undefined;
  const record = () => newRecord(id, spec, cg);
  const release = async () => {
    const killAll = () => {
      for (const pid of cg?.pids() ?? []) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    };
    if (child) await stopProcess(child, { politeMs: 300, graceMs: 2000, onKill: killAll });
    await cg?.remove();
    ctx.ledger.remove(id);
    ctx.uids.release(uid);
  };
  try {
    cg = await SandboxCgroup.create(id, { memoryMb, maxProcesses });
    ctx.ledger.put(record());
    const stderr = new TailBuffer();
    const args = bwrapArgs({
      rootfs: ctx.rootfs,
      toolsDir: ctx.tools.dir,
      diskMb: sizeOr(spec.diskMb, 'diskMb'),
      env: sandboxEnv({ ...spec.env, HEARTH_SANDBOX_ID: id }),
      command: agentCommand({ ...spec.env, HEARTH_SANDBOX_ID: id }),
    });
    const proc = spawnThroughShim({
      shim: ctx.tools.shim,
      cgroupDirs: cg?.dirs ?? [],
      uid,
      nproc: maxProcesses,
      noKillOrphans: true,
      command: [ctx.bwrap, ...args],
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child = proc;
    const spawnError = new Promise<never>((_, reject) => proc.once('error', reject));
    spawnError.catch(() => {});
    proc.stderr?.on('data', (c: Buffer) => stderr.push(c));
    if (proc.pid !== undefined) {
      ctx.ledger.put({ ...record(), pids: [{ pid: proc.pid, startTime: processStartTime(proc.pid) }] });
    }
    const died = exited(proc).then(() => {
      throw new HearthError(
        'SANDBOX_START_FAILED',
        `bwrap sandbox exited before its agent answered: ${stderr.text() || `exit ${proc.exitCode ?? proc.signalCode}`}`,
      );
    });
    died.catch(() => {});
    const aborted = new Promise<never>((_, reject) => {
      signal?.addEventListener(
        'abort',
        () => reject(new HearthError('CANCELLED', 'sandbox creation was cancelled')),
        { once: true },
      );
    });
    aborted.catch(() => {});
    if (!proc.stdout || !proc.stdin)
      throw new HearthError('SANDBOX_START_FAILED', 'no stdio pipes to the sandbox');
    const connecting = AgentClient.connect({
      readable: proc.stdout,
      writable: proc.stdin,
      helloTimeoutMs: ctx.helloTimeoutMs ?? 15_000,
    });
    connecting.then((a) => (signal?.aborted ? a.close() : undefined)).catch(() => {});
    const agent = await Promise.race([connecting, died, spawnError, aborted]).catch((err: unknown) => {
      if (err instanceof HearthError && err.code !== 'AGENT_TIMEOUT' && err.code !== 'SANDBOX_LOST')
        throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw new HearthError(
        'SANDBOX_START_FAILED',
        `bwrap sandbox did not start: ${why}${stderr.text() ? `; stderr: ${stderr.text()}` : ''}`,
        { cause: err },
      );
    });
    return new BwrapSandbox(id, { ...spec }, agent, release);
  } catch (err) {
    await release();
    throw err instanceof HearthError
      ? err
      : new HearthError('SANDBOX_START_FAILED', `bwrap sandbox did not start: ${(err as Error).message}`, {
          cause: err,
        });
  }
}
