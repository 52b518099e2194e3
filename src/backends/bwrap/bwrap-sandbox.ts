import type { ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { HearthError } from '../../errors/hearth-error.js';
import { SandboxCgroup } from '../../host/cgroups.js';
import { spawnThroughShim, stopProcess } from '../../host/host-process.js';
import { newSandboxId, processStartTime } from '../../host/sandbox-id.js';
import { sandboxFilterBytes } from '../../host/seccomp.js';
import { TailBuffer } from '../../host/tail-buffer.js';
import type { Sandbox, SandboxSpec } from '../backend.js';
import { AgentSandbox } from '../shared/agent-sandbox.js';
import { withExecMemoryLimits } from '../shared/exec-memory.js';
import { connectStdioAgent } from '../shared/stdio-agent.js';
import { agentCommand, bwrapArgs, sandboxEnv } from './bwrap-args.js';
import { type BwrapContext, newRecord, sizeOr } from './bwrap-context.js';

/** The fd of the seccomp filter handed to bwrap. */
const SECCOMP_FD = 3;
/**
 * Processes and threads the agent may hold beyond what it held at hello: libuv's pool (4 threads,
 * started on first use), the exec server and one shim per running exec. Only the host's RLIMIT_NPROC
 * backstop, which must be fixed before the agent runs, takes a cruder allowance.
 */
const AGENT_THREAD_SLACK = 12;
const AGENT_NPROC_ALLOWANCE = 64;

/** Threads of every process in the cgroup now (cgroup v1's procs file lists processes only). */
function threadsIn(cg: SandboxCgroup): number {
  let n = 0;
  for (const pid of cg.pids()) {
    try {
      n += readdirSync(`/proc/${pid}/task`).length;
    } catch {}
  }
  return n;
}

/**
 * Room for the agent and its exec server, added to an exec's own memory limit while it runs.
 * Measured: ≈ 11 MB of the cgroup's usage between execs (Node's code pages are file-backed and
 * shared); the rest is room for the agent's heap while it streams output.
 */
const AGENT_OVERHEAD_MB = 64;

/**
 * Starts bwrap with the agent inside (through the host shim: cgroups, then an unprivileged uid).
 * The host cgroup holds every process of the sandbox, so its memory and pids limits are the whole
 * sandbox's. The agent's own processes and threads are measured once it answers and added to the
 * pids limit, so the user's budget is `maxProcesses` for the programs it runs; the agent's memory
 * is not added: the sandbox as a whole stays within what the spec asked for.
 */
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
    // The agent starts with room for its own threads; the limit narrows once they are counted.
    cg = await SandboxCgroup.create(id, { memoryMb, maxProcesses: maxProcesses + AGENT_NPROC_ALLOWANCE });
    ctx.ledger.put(record());
    const stderr = new TailBuffer();
    const args = bwrapArgs({
      rootfs: ctx.rootfs,
      toolsDir: ctx.tools.dir,
      diskMb: sizeOr(spec.diskMb, 'diskMb'),
      seccompFd: SECCOMP_FD,
      env: sandboxEnv({ ...spec.env, HEARTH_SANDBOX_ID: id }),
      command: agentCommand({ ...spec.env, HEARTH_SANDBOX_ID: id }),
      asPid1: true,
    });
    const proc = spawnThroughShim({
      shim: ctx.tools.shim,
      cgroupDirs: cg?.dirs ?? [],
      uid,
      nproc: maxProcesses + AGENT_NPROC_ALLOWANCE,
      noKillOrphans: true,
      command: [ctx.bwrap, ...args],
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    child = proc;
    const filter = proc.stdio[SECCOMP_FD] as Writable | null;
    filter?.on('error', () => {});
    filter?.end(sandboxFilterBytes());
    proc.stderr?.on('data', (c: Buffer) => stderr.push(c));
    if (proc.pid !== undefined) {
      ctx.ledger.put({ ...record(), pids: [{ pid: proc.pid, startTime: processStartTime(proc.pid) }] });
    }
    const agent = await connectStdioAgent({
      proc,
      label: 'bwrap sandbox',
      stderr,
      helloTimeoutMs: ctx.helloTimeoutMs ?? 15_000,
      ...(signal ? { signal } : {}),
    });
    if (cg) cg.setLimits({ memoryMb, maxProcesses: maxProcesses + threadsIn(cg) + AGENT_THREAD_SLACK });
    // A pooled sandbox is made for the largest job: each exec is held to its own memory, counted
    // over the whole sandbox, with room for the agent (which the sandbox's own limit includes).
    const limited = cg
      ? withExecMemoryLimits(agent, {
          cgroup: cg,
          memoryMb,
          sandboxLimitMb: memoryMb,
          overheadMb: AGENT_OVERHEAD_MB,
        })
      : agent;
    return new AgentSandbox('bwrap', id, { ...spec }, limited, release);
  } catch (err) {
    await release();
    throw err instanceof HearthError
      ? err
      : new HearthError('SANDBOX_START_FAILED', `bwrap sandbox did not start: ${(err as Error).message}`, {
          cause: err,
        });
  }
}
