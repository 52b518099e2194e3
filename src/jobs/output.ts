import { isUtf8 } from 'node:buffer';
import type { OneShotStepResult } from '../backends/backend.js';
import type { JobResult, OutputStream, StepResult } from './types.js';

/** Output as text, plus the exact bytes in base64 when they are not valid UTF-8. */
export function encodeOutput(bytes: Buffer): { text: string; base64?: string } {
  const text = bytes.toString('utf8');
  return isUtf8(bytes) ? { text } : { text, base64: bytes.toString('base64') };
}

export function toStepResult(r: OneShotStepResult): StepResult {
  const out = encodeOutput(r.stdout);
  const err = encodeOutput(r.stderr);
  const step: StepResult = {
    exitCode: r.exitCode,
    signal: r.signal,
    stdout: out.text,
    stderr: err.text,
    timedOut: r.timedOut,
    truncated: r.truncated,
    outOfMemory: r.outOfMemory,
    cpuTimeMs: Math.round(r.cpuTimeMs),
    wallTimeMs: Math.round(r.wallTimeMs),
    peakMemoryKb: r.peakMemoryKb,
  };
  if (out.base64 !== undefined) step.stdoutBase64 = out.base64;
  if (err.base64 !== undefined) step.stderrBase64 = err.base64;
  return step;
}

/** A step whose output is text hearth produced itself (e.g. a TypeScript syntax error). */
export function syntheticStep(exitCode: number, stderr: string): StepResult {
  return {
    exitCode,
    signal: null,
    stdout: '',
    stderr,
    timedOut: false,
    truncated: false,
    outOfMemory: false,
    cpuTimeMs: 0,
    wallTimeMs: 0,
    peakMemoryKb: 0,
  };
}

type OutputFields = 'stdout' | 'stderr' | 'stdoutBase64' | 'stderrBase64';

/** A result as the store keeps it beside the outputs: everything but the output itself. */
export type ResultMeta = Omit<JobResult, OutputFields | 'compile'> & {
  compile?: Omit<StepResult, OutputFields>;
};

/** One stream's bytes; `key` says whose (the last step's stage, or the compile step's). */
export interface StoredOutput {
  key: string;
  stream: OutputStream;
  bytes: Buffer;
}

const STREAMS: readonly OutputStream[] = ['stdout', 'stderr'];

/** The exact bytes behind a step's output fields (text is exact when no base64 was needed). */
function bytesOf(step: Pick<StepResult, OutputFields>, stream: OutputStream): Buffer {
  const b64 = stream === 'stdout' ? step.stdoutBase64 : step.stderrBase64;
  // `?? ''`: results stored by older versions are read through here too (see migrations.ts).
  return b64 !== undefined ? Buffer.from(b64, 'base64') : Buffer.from(step[stream] ?? '', 'utf8');
}

function withoutOutput<T extends Pick<StepResult, OutputFields>>(step: T): Omit<T, OutputFields> {
  const { stdout: _o, stderr: _e, stdoutBase64: _ob, stderrBase64: _eb, ...rest } = step;
  return rest;
}

/**
 * Where the compile step's own output goes. When compilation failed the top level repeats it
 * (stage `compile`), so it is kept once; a compile step that differs from it gets a key of its own.
 */
const compileKey = (stage: JobResult['stage']): string => (stage === 'compile' ? 'compile-step' : 'compile');

/** Splits a result into the small part the store keeps as JSON and its outputs as bytes. */
export function splitResult(r: JobResult): { meta: ResultMeta; outputs: StoredOutput[] } {
  const outputs: StoredOutput[] = STREAMS.map((stream) => ({
    key: r.stage,
    stream,
    bytes: bytesOf(r, stream),
  }));
  if (r.compile) {
    const own = STREAMS.map((stream) => ({
      key: compileKey(r.stage),
      stream,
      bytes: bytesOf(r.compile!, stream),
    }));
    const repeated = r.stage === 'compile' && own.every((o, i) => o.bytes.equals(outputs[i]!.bytes));
    if (!repeated) outputs.push(...own);
  }
  const { compile, ...top } = r;
  const meta: ResultMeta = withoutOutput(top);
  if (compile) meta.compile = withoutOutput(compile);
  // Empty streams are kept too: a row says which key holds a step's output.
  return { meta, outputs };
}

function withOutput<T>(step: T, find: (stream: OutputStream) => Buffer): T & Pick<StepResult, OutputFields> {
  const out = encodeOutput(find('stdout'));
  const err = encodeOutput(find('stderr'));
  return {
    ...step,
    stdout: out.text,
    stderr: err.text,
    ...(out.base64 !== undefined ? { stdoutBase64: out.base64 } : {}),
    ...(err.base64 !== undefined ? { stderrBase64: err.base64 } : {}),
  };
}

/** The inverse of `splitResult`: the same result, outputs byte-exact (text, base64 when not UTF-8). */
export function joinResult(meta: ResultMeta, outputs: readonly StoredOutput[]): JobResult {
  const empty = Buffer.alloc(0);
  const find = (key: string, stream: OutputStream) =>
    outputs.find((o) => o.key === key && o.stream === stream)?.bytes;
  const { compile, ...top } = meta;
  const result: JobResult = withOutput(top, (s) => find(meta.stage, s) ?? empty);
  if (compile) {
    const key = compileKey(meta.stage);
    result.compile = withOutput(compile, (s) => find(key, s) ?? find('compile', s) ?? empty);
  }
  return result;
}
