import { describe, expect, test } from 'vitest';
import { decideExit, type ShimReport } from '../src/agent/shim-report.js';
import { rlimitOutOfMemory } from '../src/backends/bwrap/step-runner.js';

const report = (r: Partial<ShimReport>): ShimReport => ({
  exitCode: null,
  signal: null,
  cpuTimeMs: 1,
  peakMemoryKb: 2,
  asLimitHit: false,
  ...r,
});
const exited = (code: number) => ({ exitCode: code, signal: null });

describe("a one-shot step's exit, from the host's view first", () => {
  test('a report that says exit 0 while the host saw 3 loses', () => {
    expect(decideExit({ shim: exited(3), program: report({ exitCode: 0 }) })).toEqual({
      exitCode: 3,
      signal: null,
      reportContradicted: true,
    });
  });

  test('a report may only choose between the two readings of 128+S', () => {
    expect(decideExit({ shim: exited(137), program: report({ signal: 'SIGKILL' }) })).toMatchObject({
      exitCode: null,
      signal: 'SIGKILL',
    });
    expect(decideExit({ shim: exited(137), program: report({ exitCode: 137 }) })).toMatchObject({
      exitCode: 137,
      signal: null,
    });
    // A signal that does not match the host's 128+S is not believed.
    expect(decideExit({ shim: exited(137), program: report({ signal: 'SIGSEGV' }) })).toEqual({
      exitCode: null,
      signal: 'SIGKILL',
      reportContradicted: true,
    });
  });

  test('without a report, 128+S reads as signal S and small codes as codes', () => {
    expect(decideExit({ shim: exited(143) })).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
    expect(decideExit({ shim: exited(5) })).toMatchObject({ exitCode: 5, signal: null });
    expect(decideExit({ shim: exited(255) })).toMatchObject({ exitCode: 255, signal: null });
  });

  test('the host-side shim being killed, or bwrap being killed, wins over everything inside', () => {
    expect(
      decideExit({ shim: { exitCode: null, signal: 'SIGKILL' }, program: report({ exitCode: 0 }) }),
    ).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
    expect(
      decideExit({
        shim: exited(137),
        bwrap: report({ signal: 'SIGKILL' }),
        program: report({ exitCode: 0 }),
      }),
    ).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
    expect(decideExit({ shim: exited(0), bwrap: report({ exitCode: 2 }) })).toMatchObject({ exitCode: 2 });
  });

  test('out of memory under RLIMIT_AS: a failure near the limit by the host-side peak', () => {
    const failed = decideExit({ shim: exited(1) });
    expect(rlimitOutOfMemory(failed, 90 * 1024, 100)).toBe(true);
    expect(rlimitOutOfMemory(failed, 10 * 1024, 100)).toBe(false);
    expect(rlimitOutOfMemory(decideExit({ shim: exited(0) }), 99 * 1024, 100)).toBe(false);
    expect(rlimitOutOfMemory(failed, 90 * 1024, undefined)).toBe(false);
  });
});
