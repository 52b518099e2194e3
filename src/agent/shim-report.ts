import { constants } from 'node:os';

/**
 * The exec shim's report (shim/hearth-exec.c, `--report-fd`), read by the host (one-shot bwrap
 * steps) and by the guest agent. The shim writes `{"pid":N}` once the program runs, then one line
 * with what it used. The program runs as the shim's uid and can reach the report pipe, so every
 * byte is hostile: lines are bounded in length and number, each is validated field by field, and
 * nothing here throws — a bad report marks the reader `malformed` and is ignored from then on.
 */

/** What the shim says about an ended program. Advisory: the host cross-checks it. */
export interface ShimReport {
  exitCode: number | null;
  signal: string | null;
  cpuTimeMs: number;
  peakMemoryKb: number;
  asLimitHit: boolean;
}

export type ReportLine = { pid: number } | ShimReport;

/** The shim's longest line is ~110 bytes; anything longer did not come from it. */
export const MAX_REPORT_LINE_BYTES = 256;
/** The shim writes two lines; one more is tolerated before the report is called malformed. */
export const MAX_REPORT_LINES = 3;

const FINAL_KEYS = ['exitCode', 'signal', 'cpuTimeMs', 'peakMemoryKb', 'asLimitHit'] as const;
/** Linux's pid_max ceiling (2^22). */
const MAX_PID = 4_194_304;
const SIGNAL_NAME = /^SIG[A-Z0-9+-]{1,12}$/;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** One report line, validated; undefined for anything the shim would not have written. Never throws. */
export function parseReport(line: string): ReportLine | undefined {
  if (line.length > MAX_REPORT_LINE_BYTES || !line.trim()) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0] === 'pid') {
    return isCount(o.pid) && o.pid > 0 && o.pid <= MAX_PID ? { pid: o.pid } : undefined;
  }
  if (keys.length !== FINAL_KEYS.length || !FINAL_KEYS.every((k) => k in o)) return undefined;
  const { exitCode, signal, cpuTimeMs, peakMemoryKb, asLimitHit } = o;
  const codeOk = exitCode === null || (isCount(exitCode) && exitCode <= 255);
  const signalOk = signal === null || (typeof signal === 'string' && SIGNAL_NAME.test(signal));
  // Exactly one of the two says how the program ended.
  if (!codeOk || !signalOk || (exitCode === null) === (signal === null)) return undefined;
  if (!isCount(cpuTimeMs) || !isCount(peakMemoryKb) || typeof asLimitHit !== 'boolean') return undefined;
  return {
    exitCode: exitCode as number | null,
    signal: signal as string | null,
    cpuTimeMs,
    peakMemoryKb,
    asLimitHit,
  };
}

/**
 * Reads a report stream chunk by chunk, in bounded memory: the pid line, then the final line, in
 * that order. Anything else (a long or unparsable line, a line too many, a second final line)
 * makes it `malformed`; its fields then stay as they were and later bytes are dropped.
 */
export class ReportReader {
  pid: number | undefined;
  final: ShimReport | undefined;
  /** Why the report cannot be believed, once it cannot. */
  malformed: string | undefined;
  /** Some byte arrived: whatever wrote it was running inside the sandbox. */
  sawBytes = false;
  #partial = '';
  #lines = 0;

  /** Takes the next bytes. Never throws. */
  push(chunk: Buffer | string): void {
    if (chunk.length) this.sawBytes = true;
    if (this.malformed !== undefined) return;
    let text = this.#partial + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    let nl = text.indexOf('\n');
    while (nl >= 0 && this.malformed === undefined) {
      this.#line(text.slice(0, nl));
      text = text.slice(nl + 1);
      nl = text.indexOf('\n');
    }
    if (this.malformed !== undefined) text = '';
    else if (text.length > MAX_REPORT_LINE_BYTES)
      this.#fail(`a report line longer than ${MAX_REPORT_LINE_BYTES}`);
    this.#partial = this.malformed === undefined ? text : '';
  }

  /** The stream ended: a last line without its newline still counts. Never throws. */
  end(): void {
    if (this.malformed === undefined && this.#partial) this.#line(this.#partial);
    this.#partial = '';
  }

  #line(line: string): void {
    const parsed = ++this.#lines > MAX_REPORT_LINES ? undefined : parseReport(line);
    if (!parsed)
      this.#fail(this.#lines > MAX_REPORT_LINES ? 'too many report lines' : 'an invalid report line');
    else if ('pid' in parsed) {
      if (this.pid !== undefined || this.final) this.#fail('a pid line out of order');
      else this.pid = parsed.pid;
    } else if (this.final) this.#fail('a second final report');
    else this.final = parsed;
  }

  #fail(why: string): void {
    this.malformed = why;
    this.#partial = '';
  }
}

/**
 * How a program under the shim ended, decided from what the program cannot reach. Up to three views:
 * - the waitpid of the outermost process (the host-side shim for bwrap, the shim itself in a guest):
 *   authoritative;
 * - the host-side shim's report about bwrap (it waited for bwrap, outside the sandbox): authoritative;
 * - the shim's report: advisory, since the program shares its uid and may reach it.
 *
 * The shim exits with the program's status flattened (exit code N, or 128+S for signal S), and bwrap
 * passes it on the same way. So the host knows the status up to
 * one ambiguity — 128+S may be a signal or an exit code — and only that is taken from the sandbox's
 * report, when the report agrees with the host. A report that contradicts the host is ignored.
 */
export interface ProgramExit {
  exitCode: number | null;
  signal: string | null;
  /** The sandbox's report disagreed with the host's waitpid and was ignored. */
  reportContradicted: boolean;
}

const NAMES = new Map<number, string>(
  Object.entries(constants.signals).map(([name, n]) => [n, name] as [number, string]),
);

function signalName(n: number): string {
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
}): ProgramExit {
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
