import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  MAX_REPORT_LINE_BYTES,
  MAX_REPORT_LINES,
  parseReport,
  ReportReader,
} from '../src/agent/shim-report.js';

/** What the shim really writes (hearth-exec.c), the seeds the mutations start from. */
const [PID_LINE, EXIT_LINE, KILL_LINE] = [
  '{"pid":42}\n',
  '{"exitCode":3,"signal":null,"cpuTimeMs":12,"peakMemoryKb":8028,"asLimitHit":false}\n',
  '{"exitCode":null,"signal":"SIGKILL","cpuTimeMs":0,"peakMemoryKb":4,"asLimitHit":true}\n',
] as const;
const REAL = [PID_LINE, EXIT_LINE, KILL_LINE];

const mutated = fc
  .tuple(
    fc.constantFrom(...REAL),
    fc.array(
      fc.record({
        at: fc.nat(),
        op: fc.constantFrom('flip', 'drop', 'insert', 'dup'),
        byte: fc.integer({ min: 0, max: 255 }),
      }),
      { maxLength: 8 },
    ),
  )
  .map(([seed, edits]) => {
    let b = Buffer.from(seed);
    for (const e of edits) {
      const i = b.length ? e.at % b.length : 0;
      if (e.op === 'flip') b[i] = e.byte;
      else if (e.op === 'drop') b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
      else if (e.op === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from([e.byte]), b.subarray(i)]);
      else b = Buffer.concat([b, b.subarray(i)]);
    }
    return b;
  });

/** A JSON object with the report's keys and anything in them. */
const lookalike = fc
  .record(
    {
      pid: fc.anything(),
      exitCode: fc.oneof(fc.integer(), fc.constant(null), fc.anything()),
      signal: fc.oneof(fc.constantFrom('SIGKILL', 'SIGTERM', null, 'SIG'), fc.string()),
      cpuTimeMs: fc.oneof(fc.nat(), fc.double(), fc.anything()),
      peakMemoryKb: fc.oneof(fc.nat(), fc.anything()),
      asLimitHit: fc.oneof(fc.boolean(), fc.anything()),
    },
    { requiredKeys: [] },
  )
  .map((o) => Buffer.from(`${JSON.stringify(o)}\n`));

const chunkInput = fc.oneof(
  { weight: 3, arbitrary: mutated },
  { weight: 2, arbitrary: lookalike },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 400 }).map((s) => Buffer.from(s)) },
);

/** Feeds the chunks, checking the reader's promises after each. */
function feed(chunks: Buffer[]): ReportReader {
  const r = new ReportReader();
  for (const c of chunks) {
    r.push(c);
    if (r.final) {
      const f = r.final;
      expect((f.exitCode === null) !== (f.signal === null)).toBe(true);
      if (f.exitCode !== null)
        expect(Number.isInteger(f.exitCode) && f.exitCode >= 0 && f.exitCode <= 255).toBe(true);
      expect(Number.isSafeInteger(f.cpuTimeMs) && f.cpuTimeMs >= 0).toBe(true);
      expect(Number.isSafeInteger(f.peakMemoryKb) && f.peakMemoryKb >= 0).toBe(true);
    }
    if (r.pid !== undefined) expect(Number.isSafeInteger(r.pid) && r.pid > 0).toBe(true);
  }
  r.end();
  return r;
}

describe('the shim report reader under hostile input', () => {
  test('random and mutated lines, in random chunks: never throws, never holds an invalid field', () => {
    fc.assert(
      fc.property(fc.array(chunkInput, { maxLength: 6 }), (chunks) => {
        feed(chunks);
      }),
      { numRuns: 40_000 },
    );
  });

  test('parseReport on any string never throws and accepts only well-formed lines', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          mutated.map((b) => b.toString().trim()),
        ),
        (s) => {
          const r = parseReport(s);
          if (r && 'pid' in r) expect(r.pid).toBeGreaterThan(0);
        },
      ),
      { numRuns: 15_000 },
    );
  });

  test('the real report, split anywhere, reads back as written', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 200 }), (a, b) => {
        const all = Buffer.from(PID_LINE + EXIT_LINE);
        const [i, j] = [Math.min(a, b, all.length), Math.min(Math.max(a, b), all.length)];
        const r = feed([all.subarray(0, i), all.subarray(i, j), all.subarray(j)]);
        expect(r.malformed).toBeUndefined();
        expect(r.pid).toBe(42);
        expect(r.final).toEqual({
          exitCode: 3,
          signal: null,
          cpuTimeMs: 12,
          peakMemoryKb: 8028,
          asLimitHit: false,
        });
      }),
      { numRuns: 2_000 },
    );
  });

  test('a forged second report, an endless line and a flood are refused in bounded memory', () => {
    const forged = feed([Buffer.from(PID_LINE + EXIT_LINE + EXIT_LINE)]);
    expect(forged.malformed).toMatch(/second final/);
    const garbage = feed([Buffer.from('{"exitCode":x\n')]);
    expect(garbage.malformed).toMatch(/invalid/);
    expect(garbage.sawBytes).toBe(true);
    const long = new ReportReader();
    for (let i = 0; i < 1000; i++) long.push(Buffer.alloc(64 * 1024, 'a'));
    expect(long.malformed).toMatch(new RegExp(`longer than ${MAX_REPORT_LINE_BYTES}`));
    const many = feed([Buffer.from('{"pid":1}\n'.repeat(MAX_REPORT_LINES + 1))]);
    expect(many.malformed).toBeDefined();
    expect(many.pid).toBe(1);
  });
});
