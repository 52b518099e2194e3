import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentClient } from '../../agent/client.js';
import { HearthError } from '../../errors/hearth-error.js';
import { removeCgroupDir } from '../../sandboxes/cgroups.js';
import type { SandboxLedger, SandboxRecord } from '../../sandboxes/ledger.js';
import { newSandboxId, processStartTime } from '../../sandboxes/sandbox-id.js';
import type { Sandbox, SandboxSpec } from '../backend.js';
import { agentCommand, sandboxEnv } from '../bwrap/bwrap-args.js';
import { sizeOr } from '../bwrap/bwrap-context.js';
import { exited, stopProcess } from '../bwrap/host-process.js';
import { TailBuffer } from '../bwrap/tail-buffer.js';
import { ociSpec } from './oci-spec.js';
import { runscBinary, runscCgroupDirs, runscFlags, runscQuiet } from './runsc.js';

export interface GvisorContext {
  run: string;
  ledger: SandboxLedger;
  rootfs: string;
  toolsDir: string;
  /** How long the agent may take to say hello (Node starts slower under gVisor). @default 30000 */
  helloTimeoutMs?: number;
}

class GvisorSandbox implements Sandbox {
  readonly backend = 'gvisor' as const;
  #closing: Promise<void> | undefined;

  constructor(
    readonly id: string,
    readonly spec: Readonly<SandboxSpec>,
    readonly agent: AgentClient,
    private readonly release: () => Promise<void>,
  ) {}

  destroy(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.agent.close();
      } catch {}
      await this.release();
    })();
    return this.#closing;
  }
}

/** Starts `runsc run` on a fresh OCI bundle with the agent as the container's process. */
export async function startGvisorSandbox(
  ctx: GvisorContext,
  spec: SandboxSpec,
  signal?: AbortSignal,
): Promise<Sandbox> {
  if (signal?.aborted) throw new HearthError('CANCELLED', 'sandbox creation was cancelled');
  const id = newSandboxId('gvisor');
  const dir = join(ctx.run, id);
  const stateDir = join(dir, 'state');
  const bundle = join(dir, 'bundle');
  const cgroupsPath = `/hearth/${id}`;
  const record: SandboxRecord = {
    id,
    backend: 'gvisor',
    ownerPid: process.pid,
    pids: [],
    paths: [dir],
    mounts: [],
    cgroups: [],
    labels: spec.labels ?? {},
    createdAt: new Date().toISOString(),
  };
  let child: ChildProcess | undefined;
  const release = async () => {
    await runscQuiet(stateDir, ['kill', id, 'KILL']);
    if (child) await stopProcess(child, { politeMs: 200, graceMs: 2000 });
    await runscQuiet(stateDir, ['delete', '--force', id]);
    for (const cg of runscCgroupDirs(cgroupsPath)) await removeCgroupDir(cg);
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    ctx.ledger.remove(id);
  };
  try {
    ctx.ledger.put(record);
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await mkdir(bundle, { recursive: true });
    const config = ociSpec({
      rootfs: ctx.rootfs,
      toolsDir: ctx.toolsDir,
      diskMb: sizeOr(spec.diskMb, 'diskMb'),
      memoryMb: sizeOr(spec.memoryMb, 'memoryMb'),
      maxProcesses: sizeOr(spec.maxProcesses, 'maxProcesses'),
      env: sandboxEnv({ ...spec.env, HEARTH_SANDBOX_ID: id }),
      args: agentCommand({ ...spec.env, HEARTH_SANDBOX_ID: id }),
      cgroupsPath,
    });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(config));
    const proc = spawn(runscBinary(), [...runscFlags(stateDir), 'run', '--bundle', bundle, id], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child = proc;
    const stderr = new TailBuffer();
    proc.stderr?.on('data', (c: Buffer) => stderr.push(c));
    const spawnError = new Promise<never>((_, reject) => proc.once('error', reject));
    spawnError.catch(() => {});
    if (proc.pid !== undefined) {
      ctx.ledger.put({
        ...record,
        pids: [{ pid: proc.pid, startTime: processStartTime(proc.pid) }],
        cgroups: [],
      });
    }
    const died = exited(proc).then(() => {
      throw new HearthError(
        'SANDBOX_START_FAILED',
        `runsc exited before the agent answered: ${stderr.text() || `exit ${proc.exitCode ?? proc.signalCode}`}`,
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
    if (!proc.stdout || !proc.stdin) throw new HearthError('SANDBOX_START_FAILED', 'no stdio pipes to runsc');
    const connecting = AgentClient.connect({
      readable: proc.stdout,
      writable: proc.stdin,
      helloTimeoutMs: ctx.helloTimeoutMs ?? 30_000,
    });
    connecting.then((a) => (signal?.aborted ? a.close() : undefined)).catch(() => {});
    const agent = await Promise.race([connecting, died, spawnError, aborted]).catch((err: unknown) => {
      if (err instanceof HearthError && err.code !== 'AGENT_TIMEOUT' && err.code !== 'SANDBOX_LOST')
        throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw new HearthError(
        'SANDBOX_START_FAILED',
        `gVisor sandbox did not start: ${why}${stderr.text() ? `; runsc: ${stderr.text()}` : ''}`,
        { cause: err },
      );
    });
    if (proc.pid !== undefined) {
      ctx.ledger.put({
        ...record,
        pids: [{ pid: proc.pid, startTime: processStartTime(proc.pid) }],
        cgroups: runscCgroupDirs(cgroupsPath),
      });
    }
    return new GvisorSandbox(id, { ...spec }, agent, release);
  } catch (err) {
    await release();
    throw err instanceof HearthError
      ? err
      : new HearthError('SANDBOX_START_FAILED', `gVisor sandbox did not start: ${(err as Error).message}`, {
          cause: err,
        });
  }
}
