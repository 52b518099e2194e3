import { constants } from 'node:os';
import type { ShimReport } from '../../agent/shim-report.js';

/**
 * How a one-shot step ended, decided from what the program cannot reach. Three views exist:
 * - the host's own waitpid of the host-side shim (Node's `exit` event): authoritative;
 * - the host-side shim's report about bwrap (it waited for bwrap, outside the sandbox): authoritative;
 * - the in-sandbox shim's report: advisory, since the program shares its uid and can write to it.
 *
 * bwrap passes its child's status on flattened (exit code N, or 128+S for signal S), and the
 * in-sandbox shim exits with the program's status the same way. So the host knows the status up to
 * one ambiguity — 128+S may be a signal or an exit code — and only that is taken from the sandbox's
 * report, when the report agrees with the host. A report that contradicts the host is ignored.
 */
export interface StepExit {
  exitCode: number | null;
  signal: string | null;
  /** The sandbox's report disagreed with the host's waitpid and was ignored. */
  reportContradicted: boolean;
}

const NAMES = new Map<number, string>(
  Object.entries(constants.signals).map(([name, n]) => [n, name] as [number, string]),
);

export function signalName(n: number): string {
  return NAMES.get(n) ?? `SIG${n}`;
}

function signalNumber(name: string): number | undefined {
  return (constants.signals as Record<string, number | undefined>)[name];
}

/** The highest signal number Linux delivers (SIGRTMAX). */
const MAX_SIGNAL = 64;

export function decideExit(o: {
  /** The host-side shim's status from Node's waitpid. */
  shim: { exitCode: number | null; signal: string | null };
  /** The host-side shim's report about bwrap, if it got to write one. */
  bwrap?: ShimReport | undefined;
  /** The in-sandbox shim's final report, if it was well-formed. */
  program?: ShimReport | undefined;
}): StepExit {
  const { shim, bwrap, program } = o;
  if (shim.signal !== null) return { exitCode: null, signal: shim.signal, reportContradicted: false };
  if (bwrap?.signal) return { exitCode: null, signal: bwrap.signal, reportContradicted: false };
  const code = bwrap?.exitCode ?? shim.exitCode;
  if (code === null) return { exitCode: null, signal: 'SIGKILL', reportContradicted: false };
  const asSignal = code > 128 && code - 128 <= MAX_SIGNAL ? code - 128 : undefined;
  if (program) {
    if (program.exitCode === code) return { exitCode: code, signal: null, reportContradicted: false };
    if (program.signal && asSignal !== undefined && signalNumber(program.signal) === asSignal)
      return { exitCode: null, signal: program.signal, reportContradicted: false };
  }
  // No believable report: 128+S is most often a signal (the shim itself killed, an OOM kill).
  const exit =
    asSignal !== undefined
      ? { exitCode: null, signal: signalName(asSignal) }
      : { exitCode: code, signal: null };
  return { ...exit, reportContradicted: program !== undefined };
}

/**
 * Without a cgroup (an rlimit-only host) the memory limit is RLIMIT_AS, whose only trace is a
 * failed allocation: a program that failed after its peak came near the limit is taken as out of
 * memory. The peak is the host-side shim's rusage, not the sandbox's word.
 */
export function rlimitOutOfMemory(exit: StepExit, peakKb: number, asLimitMb: number | undefined): boolean {
  if (!asLimitMb) return false;
  const failed =
    (exit.exitCode !== null && exit.exitCode > 0) ||
    ['SIGSEGV', 'SIGABRT', 'SIGBUS', 'SIGTRAP', 'SIGKILL'].includes(exit.signal ?? '');
  return failed && peakKb * 10 >= asLimitMb * 1024 * 7;
}
