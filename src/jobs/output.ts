import { isUtf8 } from 'node:buffer';
import type { OneShotStepResult } from '../backends/backend.js';
import type { StepResult } from './types.js';

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
