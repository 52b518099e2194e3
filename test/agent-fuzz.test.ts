/**
 * Property tests of the host's parsing of guest output: the frame decoder and the guest-message
 * check, with random bytes and mutations of valid frames and messages. Nothing may throw past
 * them but FramingError (decoder) or an AGENT_PROTOCOL HearthError (messages), and valid input
 * must come out as it went in. About 130,000 cases in all.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeData, encodeJson, type Frame, FrameDecoder, FramingError } from '../src/agent/framing.js';
import { parseGuestMessage } from '../src/agent/guest-messages.js';
import { FrameKind, type GuestMessage, MAX_FRAME_BYTES } from '../src/agent/protocol.js';
import { HearthError } from '../src/errors/hearth-error.js';
import { hostileGuest } from './hostile-guest.js';

/** Feeds `chunks` to a fresh decoder; returns the frames, or the FramingError that ended it. */
function decode(chunks: Uint8Array[]): Frame[] | FramingError {
  const d = new FrameDecoder();
  const out: Frame[] = [];
  try {
    for (const c of chunks) out.push(...d.push(Buffer.from(c)));
  } catch (err) {
    if (err instanceof FramingError) return err;
    throw err;
  }
  return out;
}

/** Splits `buf` at the given cut points. */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out;
}

const frameArb = fc.oneof(
  fc.json().map((text) => ({ kind: FrameKind.Json as 0, text })),
  fc
    .record({
      channel: fc.nat({ max: 0xffff_ffff }),
      stream: fc.integer({ min: 0, max: 3 }),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }),
    })
    .map((d) => ({ kind: FrameKind.Data as 1, ...d, bytes: Buffer.from(d.bytes) })),
);

function encodeFrame(f: Frame): Buffer {
  if (f.kind === FrameKind.Data) return Buffer.concat(encodeData(f.channel, f.stream as 0, f.bytes));
  const body = Buffer.from(f.text);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length + 1, 0);
  head[4] = FrameKind.Json;
  return Buffer.concat([head, body]);
}

const exitArb = fc.record({
  type: fc.constant('exit' as const),
  id: fc.integer({ min: 1, max: 0xffff_ffff }),
  exitCode: fc.option(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
  signal: fc.option(fc.constantFrom('SIGKILL', 'SIGTERM', 'SIGSEGV')),
  timedOut: fc.boolean(),
  truncated: fc.boolean(),
  outOfMemory: fc.boolean(),
  cpuTimeMs: fc.nat(),
  wallTimeMs: fc.nat(),
  peakMemoryKb: fc.nat(),
});
const validMessageArb: fc.Arbitrary<GuestMessage> = fc.oneof(
  fc.record({
    type: fc.constant('result' as const),
    id: fc.integer({ min: 1, max: 0xffff_ffff }),
    ok: fc.constant(true as const),
    value: fc.jsonValue(),
  }),
  fc.record({
    type: fc.constant('result' as const),
    id: fc.integer({ min: 1, max: 0xffff_ffff }),
    ok: fc.constant(false as const),
    error: fc.record({ code: fc.string({ maxLength: 20 }), message: fc.string({ maxLength: 200 }) }),
  }),
  exitArb,
  fc.record({
    type: fc.constant('log' as const),
    level: fc.constantFrom('debug' as const, 'info' as const, 'warn' as const, 'error' as const),
    message: fc.string({ maxLength: 300 }),
  }),
);

/**
 * A valid message with one field replaced, removed or added, or the whole replaced by a value.
 * A removed field or an added one always makes it invalid.
 */
const mutatedMessageArb = fc
  .tuple(validMessageArb, fc.nat(), fc.constantFrom('replace', 'remove', 'add', 'whole'), fc.jsonValue())
  .map(([msg, pick, how, value]) => {
    const m: Record<string, unknown> = { ...msg };
    const keys = Object.keys(m);
    const key = keys[pick % keys.length] as string;
    if (how === 'replace') m[key] = value;
    else if (how === 'remove') delete m[key];
    else if (how === 'add') m[`x${pick}`] = value;
    else return { text: JSON.stringify(value), mustRefuse: false };
    return { text: JSON.stringify(m), mustRefuse: how !== 'replace' };
  });

/** Runs parseGuestMessage on untrusted text: a message or an AGENT_PROTOCOL HearthError, nothing else. */
function parseOrRefuse(text: string): GuestMessage | HearthError {
  try {
    return parseGuestMessage(text);
  } catch (err) {
    if (err instanceof HearthError && err.code === 'AGENT_PROTOCOL') return err;
    throw err;
  }
}

describe('frame decoder properties', () => {
  it('random bytes in random chunks give frames or a FramingError, nothing else', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        decode(chunks);
      }),
      { numRuns: 30_000 },
    );
  });

  it('valid frames round-trip whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 6 }), fc.array(fc.nat()), (frames, cuts) => {
        const wire = Buffer.concat(frames.map(encodeFrame));
        const out = decode(split(wire, cuts));
        expect(out).toEqual(frames);
      }),
      { numRuns: 15_000 },
    );
  });

  it('valid frames with bytes flipped give frames or a FramingError, and never a frame over the limit', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (frames, flips, cuts) => {
          const wire = Buffer.concat(frames.map(encodeFrame));
          for (const [at, byte] of flips) wire[at % wire.length] = byte;
          const out = decode(split(wire, cuts));
          if (out instanceof FramingError) return;
          for (const f of out)
            expect(f.kind === FrameKind.Json ? f.text.length : f.bytes.length).toBeLessThanOrEqual(
              MAX_FRAME_BYTES,
            );
        },
      ),
      { numRuns: 25_000 },
    );
  });
});

describe('guest message check properties', () => {
  it('valid messages come out as they went in', () => {
    fc.assert(
      fc.property(validMessageArb, (msg) => {
        expect(parseGuestMessage(JSON.stringify(msg))).toEqual(JSON.parse(JSON.stringify(msg)));
      }),
      { numRuns: 15_000 },
    );
  });

  it('mutated messages are accepted only when still valid, else refused with AGENT_PROTOCOL', () => {
    fc.assert(
      fc.property(mutatedMessageArb, ({ text, mustRefuse }) => {
        const r = parseOrRefuse(text);
        if (r instanceof HearthError) expect(r.message).toMatch(/^the agent sent /);
        else {
          expect(mustRefuse).toBe(false);
          expect(['result', 'exit', 'log']).toContain(r.type);
        }
      }),
      { numRuns: 25_000 },
    );
  });

  it('random text and JSON values are refused with AGENT_PROTOCOL or accepted, nothing else', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 200 }), fc.json(), fc.constantFrom('null', '1e400', '[]', '"x"')),
        (text) => {
          parseOrRefuse(text);
        },
      ),
      { numRuns: 20_000 },
    );
  });
});

describe('the client under random guest frames', () => {
  it('never throws out of its stream handler; a broken connection rejects its calls with a HearthError', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            frameArb.map(encodeFrame),
            mutatedMessageArb.map((m) => encodeJson(JSON.parse(m.text))),
          ),
          { maxLength: 5 },
        ),
        async (frames) => {
          const g = await hostileGuest();
          const ping = g.client.ping(1000).then(
            () => 'answered',
            (err: unknown) => err,
          );
          for (const f of frames) g.send(f);
          await new Promise((r) => setImmediate(r));
          await g.client.close();
          const outcome = await ping;
          if (outcome !== 'answered') expect(outcome).toBeInstanceOf(HearthError);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
