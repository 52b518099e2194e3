import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { ExecExit } from '../../agent/protocol.js';
import { decideExit, type ProgramExit, ReportReader } from '../../agent/shim-report.js';
import { HearthError } from '../../errors/hearth-error.js';
import type { SandboxCgroup } from '../../host/cgroups.js';
import { exited } from '../../host/host-process.js';
import { TailBuffer } from '../../host/tail-buffer.js';
import type { OneShotStepResult } from '../backend.js';

/** After the host killed a sandbox, how long its pipes may take to close before they are cut. */
const KILL_SETTLE_MS = 5000;

export interface WatchOptions {
  child: ChildProcess;
  cgroup: SandboxCgroup | undefined;
  /** Fd in `child.stdio` of the in-sandbox shim's report: advisory, the program can write to it. */
  reportFd: number;
  /** Fd in `child.stdio` of the host-side shim's report (bwrap's pid, status and rusage). */
  hostReportFd: number;
  stdin?: Buffer;
  /** Content written to extra fds (bwrap's `--file FD`, `--seccomp FD`). */
  fdInputs: { fd: number; content: Buffer }[];
  /** The host's deadline: past it the whole sandbox is killed, whatever runs inside. */
  timeoutMs?: number;
  maxOutputBytes?: number;
  /** RLIMIT_AS given to the program when no cgroup holds the sandbox. */
  asLimitMb?: number;
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  signal?: AbortSignal;
}

/**
 * Without a cgroup (an rlimit-only host) the memory limit is RLIMIT_AS, whose only trace is a
 * failed allocation: a program that failed after its peak came near the limit is taken as out of
 * memory. The peak is the host-side shim's rusage, not the sandbox's word.
 */
export function rlimitOutOfMemory(exit: ProgramExit, peakKb: number, asLimitMb: number | undefined): boolean {
  if (!asLimitMb) return false;
  const failed =
    (exit.exitCode !== null && exit.exitCode > 0) ||
    ['SIGSEGV', 'SIGABRT', 'SIGBUS', 'SIGTRAP', 'SIGKILL'].includes(exit.signal ?? '');
  return failed && peakKb * 10 >= asLimitMb * 1024 * 7;
}

function feed(stream: Writable | null | undefined, content: Buffer): void {
  if (!stream) return;
  stream.on('error', () => {}); // EPIPE: the program did not read it all
  stream.end(content);
}

function drained(stream: Readable | null | undefined): Promise<void> {
  if (!stream || stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', resolve);
    stream.once('end', resolve);
    stream.once('error', () => resolve());
  });
}

function sigkill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {}
}

/**
 * Feeds one sandboxed program its inputs and watches it to the end: output streamed and counted
 * against the cap (cut exactly there), the host's deadline, cancellation — each of which kills the
 * whole sandbox from the host — then the result from what the program cannot reach: the host's
 * waitpid, the host-side shim's report and the cgroup's counters (see step-exit.ts).
 */
export async function watchStep(o: WatchOptions): Promise<OneShotStepResult> {
  const started = performance.now();
  const { child, cgroup } = o;
  const oomBefore = cgroup?.oomKills() ?? 0;
  const cpuBefore = cgroup?.cpuTimeMs() ?? 0;
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const setupErr = new TailBuffer(4096);
  const report = new ReportReader();
  const hostReport = new ReportReader();
  let total = 0;
  let timedOut = false;
  let truncated = false;
  let cancelled = false;
  let settleAfterKill: (() => void) | undefined;
  const settled = new Promise<'settled'>((resolve) => {
    settleAfterKill = () => setTimeout(() => resolve('settled'), KILL_SETTLE_MS).unref();
  });

  // Every process of the sandbox's cgroup, bwrap itself (its pid from the host-side shim), and the
  // host-side shim: a stopped or hostile in-sandbox shim cannot keep the step alive.
  const kill = () => {
    for (const pid of cgroup?.pids() ?? []) sigkill(pid);
    if (hostReport.pid !== undefined && !hostReport.final && child.exitCode === null) sigkill(hostReport.pid);
    try {
      child.kill('SIGKILL');
    } catch {}
    settleAfterKill?.();
    settleAfterKill = undefined;
  };
  const take = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    if (truncated) return;
    if (!report.sawBytes) setupErr.push(chunk);
    const cap = o.maxOutputBytes ?? Number.POSITIVE_INFINITY;
    let piece = chunk;
    if (total + chunk.length > cap) {
      piece = chunk.subarray(0, cap - total);
      truncated = true;
    }
    total += piece.length;
    if (piece.length) {
      out[stream].push(piece);
      o.onOutput?.(stream, piece);
    }
    if (truncated) kill();
  };
  child.stdout?.on('data', take('stdout'));
  child.stderr?.on('data', take('stderr'));
  const reportStream = child.stdio[o.reportFd] as Readable | null | undefined;
  const hostStream = child.stdio[o.hostReportFd] as Readable | null | undefined;
  reportStream?.on('data', (c: Buffer) => report.push(c));
  hostStream?.on('data', (c: Buffer) => hostReport.push(c));
  for (const { fd, content } of o.fdInputs) feed(child.stdio[fd] as Writable | null, content);
  if (o.stdin) feed(child.stdin, o.stdin);

  const timer = o.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        kill();
      }, o.timeoutMs)
    : undefined;
  const onAbort = () => {
    cancelled = true;
    kill();
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) onAbort();
  const streams = [child.stdout, child.stderr, reportStream, hostStream];
  try {
    const done = Promise.all([exited(child), ...streams.map(drained)]);
    // Once killed, a sandbox gets a bounded while to let go of its pipes; then they are cut.
    if ((await Promise.race([done, settled])) === 'settled') {
      for (const s of streams) s?.destroy();
      await exited(child);
    }
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
  }
  report.end();
  hostReport.end();
  if (cancelled) throw new HearthError('CANCELLED', 'the run was cancelled');
  const oom = (cgroup?.oomKills() ?? 0) > oomBefore;
  if (!report.sawBytes && !timedOut && !truncated && !oom) {
    const why = setupErr.text() || `exit ${child.exitCode ?? child.signalCode}`;
    throw new HearthError('SANDBOX_START_FAILED', `bwrap sandbox did not start: ${why}`);
  }
  const bwrap = hostReport.malformed === undefined ? hostReport.final : undefined;
  const exit = decideExit({
    shim: { exitCode: child.exitCode, signal: child.signalCode },
    bwrap,
    program: report.malformed === undefined ? report.final : undefined,
  });
  // Where a cgroup holds the sandbox its counters cover every process; without one (an
  // rlimit-only host) the host-side shim's rusage of the reaped tree is the next best host view.
  const peakMemoryKb = cgroup?.peakMemoryKb() || (bwrap?.peakMemoryKb ?? 0);
  const result: ExecExit = {
    exitCode: exit.exitCode,
    signal: exit.signal,
    timedOut,
    truncated,
    outOfMemory: cgroup ? oom : rlimitOutOfMemory(exit, peakMemoryKb, o.asLimitMb),
    cpuTimeMs: Math.max((cgroup?.cpuTimeMs() ?? 0) - cpuBefore, bwrap?.cpuTimeMs ?? 0),
    wallTimeMs: Math.round(performance.now() - started),
    peakMemoryKb,
  };
  return { ...result, stdout: Buffer.concat(out.stdout), stderr: Buffer.concat(out.stderr) };
}
