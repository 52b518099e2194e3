/**
 * The exec shim's command line and the report it writes on fd 3 (see shim/hearth-exec.c).
 */
import type { ExecLimits } from '../protocol.js';
import type { LimitMechanism } from './limits.js';

export interface ShimReport {
  exitCode: number | null;
  signal: string | null;
  cpuTimeMs: number;
  peakMemoryKb: number;
  asLimitHit: boolean;
}

/** The shim's options for `limits` (everything before `--`). */
export function buildShimArgs(limits: ExecLimits, mechanism: LimitMechanism, cgroupDir?: string): string[] {
  const args = ['--report-fd', '3'];
  const add = (flag: string, value: number | undefined): void => {
    if (value !== undefined && Number.isFinite(value) && value >= 0)
      args.push(flag, String(Math.ceil(value)));
  };
  add('--cpu-ms', limits.cpuTimeMs);
  add('--fsize-bytes', limits.maxFileBytes);
  add('--nofile', limits.maxOpenFiles);
  if (cgroupDir) args.push('--cgroup', cgroupDir);
  if (mechanism === 'rlimit') {
    add('--as-mb', limits.memoryMb);
    add('--nproc', limits.maxProcesses);
  }
  return args;
}

/** One report line: the program's pid when it started, or the final report. */
export function parseReport(line: string): { pid: number } | ShimReport | undefined {
  if (!line.trim()) return undefined;
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    if (typeof value.pid === 'number') return { pid: value.pid };
    if (typeof value.cpuTimeMs !== 'number') return undefined;
    return {
      exitCode: typeof value.exitCode === 'number' ? value.exitCode : null,
      signal: typeof value.signal === 'string' ? value.signal : null,
      cpuTimeMs: value.cpuTimeMs,
      peakMemoryKb: typeof value.peakMemoryKb === 'number' ? value.peakMemoryKb : 0,
      asLimitHit: value.asLimitHit === true,
    };
  } catch {
    return undefined;
  }
}
