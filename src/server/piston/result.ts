import { constants } from 'node:os';
import type { JobEvent } from '../../jobs/events.js';
import type { Job, JobStage, OutputStream, StepResult } from '../../jobs/types.js';

/** One stage of Piston's answer: every field present, null where Piston has nothing to say. */
export interface PistonStage {
  stdout: string;
  stderr: string;
  /** stdout and stderr in the order the chunks arrived. */
  output: string;
  code: number | null;
  signal: string | null;
  message: string | null;
  /** Piston's (isolate's) status: RE, SG, TO, OL, XX; null when the process exited 0. */
  status: string | null;
  /** ms */
  cpu_time: number;
  /** ms */
  wall_time: number;
  /** bytes */
  memory: number;
}

export interface PistonResult {
  language: string;
  version: string;
  run: PistonStage;
  compile?: PistonStage;
}

/**
 * Output chunks of a job in arrival order, per stage, so `output` interleaves stdout and stderr as
 * Piston does. Bounded by what the job keeps: it holds no more than the job's own output limit.
 */
export class OutputOrder {
  readonly #chunks: Record<JobStage, Array<{ stream: OutputStream; data: string }>> = {
    compile: [],
    run: [],
  };
  readonly #maxChars: number;
  #chars = 0;

  /** @param maxChars what it keeps in all; past it the stages fall back to stdout then stderr */
  constructor(maxChars: number) {
    this.#maxChars = maxChars;
  }

  push(e: JobEvent): void {
    if (e.type !== 'output') return;
    this.#chars += e.data.length;
    // Past the cap nothing more is kept: the sums no longer match and output() falls back.
    if (this.#chars <= this.#maxChars) this.#chunks[e.stage].push({ stream: e.stream, data: e.data });
  }

  /**
   * The interleaved output of a stage when the chunks add up to exactly the stored stdout and stderr;
   * otherwise (output cut at the limit, chunks missed) stdout then stderr, which is all that is known.
   */
  output(stage: JobStage, step: Pick<StepResult, 'stdout' | 'stderr'>): string {
    const chunks = this.#chunks[stage];
    let out = '';
    let err = '';
    for (const c of chunks) {
      if (c.stream === 'stdout') out += c.data;
      else err += c.data;
    }
    if (out !== step.stdout || err !== step.stderr) return step.stdout + step.stderr;
    return chunks.map((c) => c.data).join('');
  }
}

/** Exit fields in Piston's (isolate's) words. */
function exitFields(step: Omit<StepResult, 'cpuTimeMs' | 'wallTimeMs' | 'peakMemoryKb'>) {
  if (step.timedOut) {
    return { code: null, signal: 'SIGKILL', status: 'TO', message: 'Time limit exceeded' };
  }
  if (step.truncated) {
    // Piston kills the program at its output limit; hearth cuts the output and says how it ended.
    return { code: step.exitCode, signal: step.signal, status: 'OL', message: 'output length exceeded' };
  }
  if (step.signal) {
    const n = (constants.signals as Record<string, number | undefined>)[step.signal];
    const message = step.outOfMemory ? 'Memory limit exceeded' : `Caught fatal signal ${n ?? step.signal}`;
    return { code: null, signal: step.signal, status: 'SG', message };
  }
  if (step.exitCode !== 0) {
    const message = step.outOfMemory ? 'Memory limit exceeded' : `Exited with error status ${step.exitCode}`;
    return { code: step.exitCode, signal: null, status: 'RE', message };
  }
  return { code: 0, signal: null, status: null, message: null };
}

function stage(
  step: Omit<StepResult, 'cpuTimeMs' | 'wallTimeMs' | 'peakMemoryKb'>,
  usage: { cpuTimeMs: number; wallTimeMs: number; peakMemoryKb: number },
  output: string,
): PistonStage {
  return {
    stdout: step.stdout,
    stderr: step.stderr,
    output,
    ...exitFields(step),
    cpu_time: usage.cpuTimeMs,
    wall_time: usage.wallTimeMs,
    memory: usage.peakMemoryKb * 1024,
  };
}

/**
 * A finished job as Piston answers it. `compile` only for compiled languages; when compilation
 * failed, `run` repeats the compile stage (Piston does so for older clients). The run stage's time
 * is the job's total less the compile step's; its memory is the job's peak, which includes the
 * compiler's when that was higher.
 */
export function toPistonResult(o: {
  job: Job;
  version: string;
  order: OutputOrder;
}): PistonResult | undefined {
  const r = o.job.result;
  if (!r) return undefined;
  const base = { language: o.job.language, version: o.version };
  const c = r.compile;
  const compile = c ? stage(c, c, o.order.output('compile', c)) : undefined;
  if (r.stage === 'compile' && compile) return { ...base, run: compile, compile };
  const run = stage(
    r,
    {
      cpuTimeMs: Math.max(0, r.usage.cpuTimeMs - (c?.cpuTimeMs ?? 0)),
      wallTimeMs: Math.max(0, r.timing.runMs - (c?.wallTimeMs ?? 0)),
      peakMemoryKb: r.usage.peakMemoryKb,
    },
    o.order.output('run', r),
  );
  return { ...base, run, ...(compile ? { compile } : {}) };
}
