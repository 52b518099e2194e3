import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeData, encodeJson, type Frame, FrameDecoder, FramingError } from '../src/agent/framing.js';
import { DATA_CHUNK_BYTES, FrameKind, MAX_FRAME_BYTES, Stream } from '../src/agent/protocol.js';

function decodeAll(chunks: Buffer[]): Frame[] {
  const d = new FrameDecoder();
  return chunks.flatMap((c) => d.push(c));
}

describe('agent framing', () => {
  it('round-trips JSON and data frames', () => {
    const bytes = randomBytes(1000);
    const wire = Buffer.concat([
      encodeJson({ type: 'ping', id: 7, text: 'héllo ✓' }),
      ...encodeData(9, Stream.Stdout, bytes),
    ]);
    const frames = decodeAll([wire]);
    expect(frames).toHaveLength(2);
    expect(frames[0]).toEqual({
      kind: FrameKind.Json,
      text: JSON.stringify({ type: 'ping', id: 7, text: 'héllo ✓' }),
    });
    const data = frames[1];
    expect(data?.kind).toBe(FrameKind.Data);
    if (data?.kind !== FrameKind.Data) return;
    expect(data.channel).toBe(9);
    expect(data.stream).toBe(Stream.Stdout);
    expect(data.bytes.equals(bytes)).toBe(true);
  });

  it('decodes the same frames whatever the chunk boundaries', () => {
    const payload = randomBytes(3000);
    const wire = Buffer.concat([
      encodeJson({ a: 1 }),
      ...encodeData(1, Stream.Stderr, payload),
      encodeJson({ b: [1, 2, 3] }),
      ...encodeData(2, Stream.File, Buffer.from([0, 255])),
    ]);
    const whole = decodeAll([wire]);
    expect(whole).toHaveLength(4);
    for (const size of [1, 2, 3, 5, 7, 64, 1000]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < wire.length; i += size) chunks.push(wire.subarray(i, i + size));
      expect(decodeAll(chunks)).toEqual(whole);
    }
  });

  it('splits data at DATA_CHUNK_BYTES without copying and sends nothing for empty data', () => {
    const big = randomBytes(DATA_CHUNK_BYTES * 2 + 10);
    const parts = encodeData(3, Stream.Stdin, big);
    expect(parts).toHaveLength(6);
    expect(parts[1]?.buffer).toBe(big.buffer);
    const frames = decodeAll([Buffer.concat(parts)]);
    expect(frames.map((f) => (f.kind === FrameKind.Data ? f.bytes.length : -1))).toEqual([
      DATA_CHUNK_BYTES,
      DATA_CHUNK_BYTES,
      10,
    ]);
    expect(encodeData(3, Stream.Stdin, Buffer.alloc(0))).toEqual([]);
  });

  it('refuses an oversized frame from its header alone, before buffering its body', () => {
    const d = new FrameDecoder();
    const header = Buffer.alloc(5);
    header.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
    header[4] = FrameKind.Data;
    expect(() => d.push(header)).toThrow(FramingError);
    // The same header split over two chunks.
    const d2 = new FrameDecoder();
    expect(d2.push(header.subarray(0, 3))).toEqual([]);
    expect(() => d2.push(header.subarray(3))).toThrow(/out of range/);
  });

  it('refuses unknown kinds, zero lengths and short data frames', () => {
    expect(() => decodeAll([Buffer.from([0, 0, 0, 1, 9])])).toThrow(/unknown frame kind/);
    expect(() => decodeAll([Buffer.from([0, 0, 0, 0, 0])])).toThrow(/out of range/);
    expect(() => decodeAll([Buffer.from([0, 0, 0, 3, 1, 0, 0])])).toThrow(/short data frame/);
  });

  it('holds a partial frame and finishes it with the next chunk', () => {
    const d = new FrameDecoder();
    const frame = encodeJson({ type: 'ping', id: 1 });
    expect(d.push(frame.subarray(0, 8))).toEqual([]);
    expect(d.bufferedBytes).toBe(8);
    expect(d.push(frame.subarray(8))).toHaveLength(1);
    expect(d.bufferedBytes).toBe(0);
    d.push(frame.subarray(0, 4));
    d.reset();
    expect(d.push(frame)).toHaveLength(1);
  });
});
