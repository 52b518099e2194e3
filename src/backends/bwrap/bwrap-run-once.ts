import { execFile, type StdioOptions } from 'node:child_process';
import { chmod, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { ExecLimits } from '../../agent/protocol.js';
import { SANDBOX_USER } from '../../agent/sandbox-user.js';
import type { HearthPaths } from '../../config/paths.js';
import { HearthError } from '../../errors/hearth-error.js';
import type { SandboxCgroup } from '../../host/cgroups.js';
import { spawnThroughShim } from '../../host/host-process.js';
import type { SandboxRecord } from '../../host/ledger.js';
import { unmount } from '../../host/reaper.js';
import { ensureRunDir } from '../../host/run-dir.js';
import { newSandboxId, processStartTime } from '../../host/sandbox-id.js';
import { sandboxFilterBytes } from '../../host/seccomp.js';
import type { OneShotFile, OneShotRequest, OneShotStep, OneShotStepResult, SandboxSpec } from '../backend.js';
import { bwrapArgs, sandboxEnv, workPath } from './bwrap-args.js';
import { type BwrapContext, newRecord, sizeOr } from './bwrap-context.js';
import { watchStep } from './step-runner.js';

const run = promisify(execFile);
/** The in-sandbox shim's report: the first fd after stdio, then the files, the filter, the host's report. */
const REPORT_FD = 3;
const FIRST_FILE_FD = 4;

/** The exec shim's rlimit flags for a step (memory only when no cgroup holds the sandbox). */
function shimLimits(limits: ExecLimits, withCgroup: boolean): string[] {
  // Where no cgroup exists (an rlimit-only host) memory is limited per process by RLIMIT_AS.
  const a: string[] = [];
  if (limits.cpuTimeMs) a.push('--cpu-ms', String(limits.cpuTimeMs));
  if (limits.memoryMb && !withCgroup) a.push('--as-mb', String(limits.memoryMb));
  if (limits.maxFileBytes) a.push('--fsize-bytes', String(limits.maxFileBytes));
  if (limits.maxOpenFiles) a.push('--nofile', String(limits.maxOpenFiles));
  return a;
}

/** Writes the files into the host-side work dir, owned by the sandbox's uid. */
async function writeFiles(work: string, files: OneShotFile[], uid: number): Promise<void> {
  for (const f of files) {
    const path = join(work, workPath(f.path, 'file path'));
    const parts = workPath(f.path).split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const dir = join(work, ...parts.slice(0, i));
      await mkdir(dir, { recursive: true, mode: 0o755 });
      await chown(dir, uid, uid);
    }
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, f.content);
    await chmod(path, f.mode ?? 0o644);
    await chown(path, uid, uid);
  }
}

export interface RunOnceContext extends BwrapContext {
  paths: HearthPaths;
}

/**
 * One-shot runs without the agent: each step is a fresh bwrap sandbox running the exec shim, in
 * the run's cgroup, as the run's uid. One step: the files are copied into bwrap's own /work tmpfs
 * (no host mount). Several steps (compile, then run): a size-limited host tmpfs is the shared /work.
 */
export async function bwrapRunOnce(
  ctx: RunOnceContext,
  spec: SandboxSpec,
  req: OneShotRequest,
): Promise<OneShotStepResult[]> {
  if (!req.steps.length) throw new HearthError('VALIDATION_FAILED', 'runOnce needs at least one step');
  for (const s of req.steps)
    if (!s.argv.length) throw new HearthError('VALIDATION_FAILED', 'a step needs a non-empty argv');
  for (const f of req.files) workPath(f.path, 'file path');
  if (req.signal?.aborted) throw new HearthError('CANCELLED', 'the run was cancelled');
  const diskMb = sizeOr(spec.diskMb, 'diskMb');
  const id = newSandboxId('bwrap');
  const uid = ctx.uids.acquire();
  const shared = req.steps.length > 1;
  const runDir = join(ctx.paths.run, id);
  const work = join(runDir, 'work');
  let cg: SandboxCgroup | undefined;
  let mounted = false;
  const results: OneShotStepResult[] = [];
  try {
    cg = await ctx.cgroups.acquire({
      memoryMb: sizeOr(spec.memoryMb, 'memoryMb'),
      maxProcesses: sizeOr(spec.maxProcesses, 'maxProcesses'),
    });
    const base = newRecord(id, spec, cg);
    const record = shared ? { ...base, paths: [runDir], mounts: [work] } : base;
    if (shared) {
      ctx.ledger.put(record);
      ensureRunDir(ctx.paths.run, { othersMustReach: true });
      await mkdir(work, { recursive: true, mode: 0o755 });
      await run('mount', [
        '-t',
        'tmpfs',
        '-o',
        `size=${diskMb}m,mode=0755,uid=${uid},gid=${uid},nosuid,nodev`,
        `hearth-${id}`,
        work,
      ]);
      mounted = true;
      await writeFiles(work, req.files, uid);
    }
    for (const [i, step] of req.steps.entries()) {
      const r = await runStep(ctx, {
        spec,
        step,
        index: i,
        cg,
        uid,
        work: shared ? work : undefined,
        req,
        diskMb,
        record,
      });
      results.push(r);
      if (r.exitCode !== 0 || r.timedOut || r.truncated || r.outOfMemory) break;
    }
    return results;
  } finally {
    await ctx.cgroups.release(cg);
    if (mounted) await unmount(work);
    if (shared) await rm(runDir, { recursive: true, force: true }).catch(() => {});
    ctx.ledger.remove(id);
    ctx.uids.release(uid);
  }
}

interface StepInput {
  spec: SandboxSpec;
  step: OneShotStep;
  index: number;
  cg: SandboxCgroup | undefined;
  uid: number;
  work: string | undefined;
  req: OneShotRequest;
  diskMb: number;
  record: SandboxRecord;
}

async function runStep(ctx: RunOnceContext, s: StepInput): Promise<OneShotStepResult> {
  const limits = s.step.limits ?? {};
  const maxProcesses = sizeOr(
    limits.maxProcesses,
    'maxProcesses',
    sizeOr(s.spec.maxProcesses, 'maxProcesses'),
  );
  s.cg?.setLimits({
    memoryMb: sizeOr(limits.memoryMb, 'memoryMb', sizeOr(s.spec.memoryMb, 'memoryMb')),
    maxProcesses,
  });
  s.cg?.resetPeak();
  const files = s.work
    ? []
    : s.req.files.map((f, i) => ({ fd: FIRST_FILE_FD + i, path: f.path, mode: f.mode, content: f.content }));
  const seccompFd = FIRST_FILE_FD + files.length;
  const hostReportFd = seccompFd + 1;
  const asLimitMb = limits.memoryMb && !s.cg ? limits.memoryMb : undefined;
  const cwd = s.step.cwd ? workPath(s.step.cwd, 'cwd') : '';
  const args = bwrapArgs({
    rootfs: ctx.rootfs,
    toolsDir: ctx.tools.dir,
    diskMb: s.diskMb,
    workDir: s.work,
    files,
    seccompFd,
    chdir: cwd ? `${SANDBOX_USER.workDir}/${cwd}` : SANDBOX_USER.workDir,
    env: sandboxEnv({ ...s.spec.env, ...s.step.env }),
    command: [
      '/.hearth/bin/hearth-exec',
      '--report-fd',
      String(REPORT_FD),
      '--close-from',
      String(REPORT_FD + 1),
      ...shimLimits(limits, !!s.cg),
      '--',
      ...s.step.argv,
    ],
  });
  const stdio: StdioOptions = [
    s.step.stdin ? 'pipe' : 'ignore',
    'pipe',
    'pipe',
    'pipe',
    ...files.map(() => 'pipe' as const),
    'pipe',
    'pipe',
  ];
  const child = spawnThroughShim({
    shim: ctx.tools.shim,
    cgroupDirs: s.cg?.dirs ?? [],
    uid: s.uid,
    nproc: maxProcesses,
    // bwrap's pid namespace ends with it, taking every sandbox process along: no /proc walk needed.
    noKillOrphans: true,
    reportFd: hostReportFd,
    command: [ctx.bwrap, ...args],
    stdio,
  });
  const spawnFailed = new Promise<Error>((resolve) => child.once('error', resolve));
  // The record names this step's shim so the reaper can end it if this process dies mid-run. It
  // serves only that; a store that cannot take it (disk full) must not orphan the running step,
  // which this process still owns and ends below.
  if (child.pid !== undefined) {
    try {
      ctx.ledger.put({ ...s.record, pids: [{ pid: child.pid, startTime: processStartTime(child.pid) }] });
    } catch {}
  }
  const result = await Promise.race([
    watchStep({
      child,
      cgroup: s.cg,
      reportFd: REPORT_FD,
      hostReportFd,
      stdin: s.step.stdin,
      fdInputs: [
        ...files.map((f) => ({ fd: f.fd, content: f.content })),
        { fd: seccompFd, content: sandboxFilterBytes() },
      ],
      timeoutMs: limits.timeoutMs,
      maxOutputBytes: limits.maxOutputBytes,
      asLimitMb,
      onOutput: s.req.onOutput ? (stream, chunk) => s.req.onOutput?.(s.index, stream, chunk) : undefined,
      signal: s.req.signal,
    }),
    spawnFailed.then((err) => {
      throw new HearthError(
        'SANDBOX_START_FAILED',
        `cannot start the exec shim ${ctx.tools.shim}: ${err.message}`,
      );
    }),
  ]);
  if (
    limits.cpuTimeMs &&
    (result.signal === 'SIGXCPU' || (result.signal === 'SIGKILL' && result.cpuTimeMs >= limits.cpuTimeMs))
  ) {
    result.timedOut = true;
  }
  return result;
}
