import type { ChildProcess } from 'node:child_process';
import { HearthError } from '../../errors/hearth-error.js';
import { AgentSandbox } from '../../sandboxes/agent-sandbox.js';
import { SandboxCgroup } from '../../sandboxes/cgroups.js';
import { spawnThroughShim, stopProcess } from '../../sandboxes/host-process.js';
import { newSandboxId, processStartTime } from '../../sandboxes/sandbox-id.js';
import { connectStdioAgent } from '../../sandboxes/stdio-agent.js';
import { TailBuffer } from '../../sandboxes/tail-buffer.js';
import type { Sandbox, SandboxSpec } from '../backend.js';
import { agentCommand, bwrapArgs, sandboxEnv } from './bwrap-args.js';
import { type BwrapContext, newRecord, sizeOr } from './bwrap-context.js';

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
    return new AgentSandbox('bwrap', id, { ...spec }, agent, release);
  } catch (err) {
    await release();
    throw err instanceof HearthError
      ? err
      : new HearthError('SANDBOX_START_FAILED', `bwrap sandbox did not start: ${(err as Error).message}`, {
          cause: err,
        });
  }
}
