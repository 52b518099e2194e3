import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HearthError } from '../../errors/hearth-error.js';
import { AgentSandbox } from '../../sandboxes/agent-sandbox.js';
import { removeCgroupDir } from '../../sandboxes/cgroups.js';
import { stopProcess } from '../../sandboxes/host-process.js';
import { newSandboxRecord, type SandboxLedger } from '../../sandboxes/ledger.js';
import { ensureRunDir } from '../../sandboxes/run-dir.js';
import { newSandboxId, processStartTime } from '../../sandboxes/sandbox-id.js';
import { connectStdioAgent } from '../../sandboxes/stdio-agent.js';
import { TailBuffer } from '../../sandboxes/tail-buffer.js';
import type { Sandbox, SandboxSpec } from '../backend.js';
import { agentCommand, sandboxEnv } from '../bwrap/bwrap-args.js';
import { sizeOr } from '../bwrap/bwrap-context.js';
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
  const record = newSandboxRecord(id, 'gvisor', { paths: [dir], labels: spec.labels ?? {} });
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
    ensureRunDir(ctx.run);
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
    if (proc.pid !== undefined) {
      ctx.ledger.put({
        ...record,
        pids: [{ pid: proc.pid, startTime: processStartTime(proc.pid) }],
        cgroups: [],
      });
    }
    const agent = await connectStdioAgent({
      proc,
      label: 'gVisor sandbox',
      stderr,
      helloTimeoutMs: ctx.helloTimeoutMs ?? 30_000,
      ...(signal ? { signal } : {}),
    });
    if (proc.pid !== undefined) {
      ctx.ledger.put({
        ...record,
        pids: [{ pid: proc.pid, startTime: processStartTime(proc.pid) }],
        cgroups: runscCgroupDirs(cgroupsPath),
      });
    }
    return new AgentSandbox('gvisor', id, { ...spec }, agent, release);
  } catch (err) {
    await release();
    throw err instanceof HearthError
      ? err
      : new HearthError('SANDBOX_START_FAILED', `gVisor sandbox did not start: ${(err as Error).message}`, {
          cause: err,
        });
  }
}
