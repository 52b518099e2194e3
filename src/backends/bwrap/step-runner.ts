import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { ExecExit } from '../../agent/protocol.js';
import { HearthError } from '../../errors/hearth-error.js';
import type { SandboxCgroup } from '../../sandboxes/cgroups.js';
import { exited } from '../../sandboxes/host-process.js';
import { TailBuffer } from '../../sandboxes/tail-buffer.js';
import type { OneShotStepResult } from '../backend.js';

/** The exec shim's report: `{"pid":N}` at start, then one line with what the program used. */
interface ShimReport {
  exitCode: number | null;
  signal: string | null;
  cpuTimeMs: number;
  peakMemoryKb: number;
  asLimitHit: boolean;
}

export interface WatchOptions {
  child: ChildProcess;
  cgroup: SandboxCgroup | undefined;
  /** Fd of the report pipe in `child.stdio`. */
  reportFd: number;
  stdin?: Buffer;
  /** Content written to extra fds (bwrap's `--file FD`). */
  fdInputs: { fd: number; content: Buffer }[];
  timeoutMs?: number;
  maxOutputBytes?: number;
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  signal?: AbortSignal;
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

/**
 * Feeds one sandboxed program its inputs and watches it to the end: output streamed and counted
 * against the cap (cut exactly there), the wall-clock timeout, cancellation — each of which kills
 * the whole sandbox — then the shim's report and the cgroup's counters make the result.
 */
export async function watchStep(o: WatchOptions): Promise<OneShotStepResult> {
  const started = performance.now();
  const { child, cgroup } = o;
  const oomBefore = cgroup?.oomKills() ?? 0;
  const cpuBefore = cgroup?.cpuTimeMs() ?? 0;
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const setupErr = new TailBuffer(4096);
  let total = 0;
  let timedOut = false;
  let truncated = false;
  let cancelled = false;
  let started_ = false;
  let report: ShimReport | undefined;
  let reportText = '';

  const kill = () => {
    for (const pid of cgroup?.pids() ?? []) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    try {
      child.kill('SIGKILL');
    } catch {}
  };
  const take = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    if (truncated) return;
    if (!started_) setupErr.push(chunk);
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
  reportStream?.on('data', (c: Buffer) => {
    reportText += c.toString('utf8');
    for (const line of reportText.split('\n')) {
      if (line.startsWith('{"pid"')) started_ = true;
      else if (line.startsWith('{"exitCode"')) report = JSON.parse(line) as ShimReport;
    }
  });
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
  try {
    await Promise.all([exited(child), drained(child.stdout), drained(child.stderr), drained(reportStream)]);
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
  }
  if (cancelled) throw new HearthError('CANCELLED', 'the run was cancelled');
  const oom = (cgroup?.oomKills() ?? 0) > oomBefore;
  const r = report as ShimReport | undefined;
  if (!r && !started_ && !timedOut && !truncated && !oom) {
    const why = setupErr.text() || `exit ${child.exitCode ?? child.signalCode}`;
    throw new HearthError('SANDBOX_START_FAILED', `bwrap sandbox did not start: ${why}`);
  }
  const exit: ExecExit = {
    exitCode: r ? r.exitCode : null,
    signal: r ? r.signal : 'SIGKILL',
    timedOut,
    truncated,
    outOfMemory: oom || (r?.asLimitHit ?? false),
    cpuTimeMs: r?.cpuTimeMs ?? Math.max(0, (cgroup?.cpuTimeMs() ?? 0) - cpuBefore),
    wallTimeMs: Math.round(performance.now() - started),
    peakMemoryKb: r?.peakMemoryKb || (cgroup?.peakMemoryKb() ?? 0),
  };
  return { ...exit, stdout: Buffer.concat(out.stdout), stderr: Buffer.concat(out.stderr) };
}
