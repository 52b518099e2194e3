import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HearthError } from '../../errors/hearth-error.js';
import { detectCgroups, SandboxCgroup } from '../../host/cgroups.js';
import { stopProcess } from '../../host/host-process.js';
import { newSandboxRecord, type SandboxLedger } from '../../host/ledger.js';
import { ensureRunDir } from '../../host/run-dir.js';
import { newSandboxId, processStartTime } from '../../host/sandbox-id.js';
import { TailBuffer } from '../../host/tail-buffer.js';
import type { Sandbox, SandboxSpec } from '../backend.js';
import { agentCommand, sandboxEnv } from '../bwrap/bwrap-args.js';
import { sizeOr } from '../bwrap/bwrap-context.js';
import { AgentSandbox } from '../shared/agent-sandbox.js';
import { withExecMemoryLimits } from '../shared/exec-memory.js';
import { connectStdioAgent } from '../shared/stdio-agent.js';
import { AGENT_TASKS, noCgroups, SENTRY_OVERHEAD_MB } from './gvisor-limits.js';
import { ociSpec } from './oci-spec.js';
import { runscBinary, runscFlags, runscQuiet } from './runsc.js';

export interface GvisorContext {
  run: string;
  ledger: SandboxLedger;
  rootfs: string;
  toolsDir: string;
  /** The tools layer's readable binaries, mounted over /.hearth/bin. */
  readableBin: string;
  /** The exec shim on the host: runsc starts through it, inside the sandbox's cgroups. */
  shim: string;
  /** How long the agent may take to say hello (Node starts slower under gVisor). @default 30000 */
  helloTimeoutMs?: number;
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
  const memoryMb = sizeOr(spec.memoryMb, 'memoryMb');
  const maxProcesses = sizeOr(spec.maxProcesses, 'maxProcesses');
  const record = newSandboxRecord(id, 'gvisor', { paths: [dir], labels: spec.labels ?? {} });
  let child: ChildProcess | undefined;
  let cgroup: SandboxCgroup | undefined;
  const release = async () => {
    await runscQuiet(stateDir, ['kill', id, 'KILL']);
    if (child) await stopProcess(child, { politeMs: 200, graceMs: 2000 });
    await runscQuiet(stateDir, ['delete', '--force', id]);
    await cgroup?.remove();
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    ctx.ledger.remove(id);
  };
  try {
    ctx.ledger.put(record);
    ensureRunDir(ctx.run);
    if (detectCgroups().mode === 'none') throw noCgroups(detectCgroups().reason);
    // The host cgroup holds every runsc process (sentry, gofer) and so every guest process: the
    // sandbox's memory (plus the sentry's own) and a pids bound on the sentry's host threads and
    // ptrace stubs (several per guest process, hence the factor). Its name carries the owner pid,
    // so the reaper finds it even if this process dies before the record below.
    cgroup = await SandboxCgroup.create(id, {
      memoryMb: memoryMb + SENTRY_OVERHEAD_MB,
      maxProcesses: (maxProcesses + AGENT_TASKS) * 16 + 512,
    });
    if (!cgroup) throw noCgroups(detectCgroups().reason);
    const cgroupDirs = cgroup.dirs;
    ctx.ledger.put({ ...record, cgroups: cgroupDirs });
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    await mkdir(bundle, { recursive: true });
    const config = ociSpec({
      rootfs: ctx.rootfs,
      toolsDir: ctx.toolsDir,
      readableBin: ctx.readableBin,
      diskMb: sizeOr(spec.diskMb, 'diskMb'),
      maxProcesses: maxProcesses + AGENT_TASKS,
      env: sandboxEnv({ ...spec.env, HEARTH_SANDBOX_ID: id }),
      args: agentCommand({ ...spec.env, HEARTH_SANDBOX_ID: id }),
    });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(config));
    // Through the shim: runsc is in the cgroup before it forks the sentry (no race), and the shim
    // takes the sandbox down if this process dies.
    const cgArgs = cgroupDirs.flatMap((d) => ['--cgroup', d]);
    const runsc = [runscBinary(), ...runscFlags(stateDir), '--ignore-cgroups', 'run', '--bundle', bundle, id];
    const proc = spawn(ctx.shim, [...cgArgs, '--', ...runsc], { stdio: ['pipe', 'pipe', 'pipe'] });
    child = proc;
    const stderr = new TailBuffer();
    proc.stderr?.on('data', (c: Buffer) => stderr.push(c));
    if (proc.pid !== undefined) {
      ctx.ledger.put({
        ...record,
        pids: [{ pid: proc.pid, startTime: processStartTime(proc.pid) }],
        cgroups: cgroupDirs,
      });
    }
    const agent = await connectStdioAgent({
      proc,
      label: 'gVisor sandbox',
      stderr,
      helloTimeoutMs: ctx.helloTimeoutMs ?? 30_000,
      ...(signal ? { signal } : {}),
    });
    const limited = withExecMemoryLimits(agent, {
      cgroup,
      memoryMb,
      sandboxLimitMb: memoryMb + SENTRY_OVERHEAD_MB,
      overheadMb: SENTRY_OVERHEAD_MB,
    });
    return new AgentSandbox('gvisor', id, { ...spec }, limited, release);
  } catch (err) {
    await release();
    throw err instanceof HearthError
      ? err
      : new HearthError('SANDBOX_START_FAILED', `gVisor sandbox did not start: ${(err as Error).message}`, {
          cause: err,
        });
  }
}
