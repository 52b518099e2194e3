/**
 * The exec shim's command line; the report it writes on fd 3 is read by ../shim-report.ts.
 */
import { readFileSync } from 'node:fs';
import type { ExecLimits } from '../protocol.js';
import type { LimitMechanism } from './limits.js';

/**
 * RLIMIT_NPROC counts every process and thread of the uid, the agent's own among them: the agent's
 * threads, its exec server and this exec's shim are added so they do not eat the program's budget.
 */
function agentProcesses(): number {
  try {
    const m = /^Threads:\s+(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return (m ? Number(m[1]) : 0) + 2;
  } catch {
    return 2;
  }
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
    if (limits.maxProcesses !== undefined) add('--nproc', limits.maxProcesses + agentProcesses());
  }
  return args;
}
