/**
 * Frame encoder and incremental decoder for the agent protocol (see protocol.ts for the layout).
 * Shared by the host client and the guest agent.
 */
import { DATA_CHUNK_BYTES, FrameKind, MAX_FRAME_BYTES, type Stream } from './protocol.js';

/** `u32be length | u8 kind`. */
const HEADER_BYTES = 5;
/** `u32be channel | u8 stream` after the header of a Data frame. */
const DATA_PREFIX_BYTES = 5;

export type Frame =
  | { kind: typeof FrameKind.Json; text: string }
  | { kind: typeof FrameKind.Data; channel: number; stream: number; bytes: Buffer };

/** Raised by the decoder for bytes that are not a frame; the stream cannot be trusted after it. */
export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

/** One JSON frame, in one allocation. */
export function encodeJson(msg: unknown): Buffer {
  const text = JSON.stringify(msg);
  const bodyBytes = Buffer.byteLength(text);
  if (bodyBytes + 1 > MAX_FRAME_BYTES)
    throw new FramingError(`JSON message of ${bodyBytes} bytes is too large`);
  const frame = Buffer.allocUnsafe(HEADER_BYTES + bodyBytes);
  frame.writeUInt32BE(bodyBytes + 1, 0);
  frame[4] = FrameKind.Json;
  frame.write(text, HEADER_BYTES, 'utf8');
  return frame;
}

/**
 * Data frames for `bytes`, split at DATA_CHUNK_BYTES. Returns header and payload buffers to be
 * written in order (the payloads are views of `bytes`, never copies). Empty input gives no frames.
 */
export function encodeData(channel: number, stream: Stream, bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += DATA_CHUNK_BYTES) {
    const payload = bytes.subarray(offset, Math.min(offset + DATA_CHUNK_BYTES, bytes.length));
    const header = Buffer.allocUnsafe(HEADER_BYTES + DATA_PREFIX_BYTES);
    header.writeUInt32BE(1 + DATA_PREFIX_BYTES + payload.length, 0);
    header[4] = FrameKind.Data;
    header.writeUInt32BE(channel >>> 0, 5);
    header[9] = stream;
    out.push(header, payload);
  }
  return out;
}

/**
 * Turns chunks of a byte stream into frames. Frames may span chunks and a chunk may hold many
 * frames; a frame wholly inside one chunk is returned as a view of it (no copy). A length over
 * MAX_FRAME_BYTES or an unknown kind throws FramingError as soon as the header arrives, so a bad
 * peer can never make the decoder buffer without bound.
 */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Total bytes (header included) of the frame being waited for, once its header is known. */
  #needed = 0;

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Forgets a partial frame (a new connection on the same transport). */
  reset(): void {
    this.#chunks = [];
    this.#buffered = 0;
    this.#needed = 0;
  }

  push(chunk: Buffer): Frame[] {
    let buf: Buffer;
    if (this.#buffered === 0) buf = chunk;
    else {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      // Wait for the whole pending frame before copying, so a large frame is copied once.
      if (this.#needed === 0 && this.#buffered >= HEADER_BYTES) {
        const head = Buffer.concat(this.#chunks, this.#buffered).subarray(0, HEADER_BYTES);
        this.#needed = 4 + checkHeader(head.readUInt32BE(0), head[4] as number);
      }
      if (this.#needed === 0 || this.#buffered < this.#needed) return [];
      buf = Buffer.concat(this.#chunks, this.#buffered);
      this.#chunks = [];
      this.#buffered = 0;
      this.#needed = 0;
    }
    const frames: Frame[] = [];
    let offset = 0;
    while (buf.length - offset >= HEADER_BYTES) {
      const kind = buf[offset + 4] as FrameKind;
      const length = checkHeader(buf.readUInt32BE(offset), kind);
      const end = offset + 4 + length;
      if (end > buf.length) break;
      const body = buf.subarray(offset + HEADER_BYTES, end);
      if (kind === FrameKind.Json) frames.push({ kind, text: body.toString('utf8') });
      else {
        const channel = body.readUInt32BE(0);
        const stream = body[4] as number;
        frames.push({ kind, channel, stream, bytes: body.subarray(DATA_PREFIX_BYTES) });
      }
      offset = end;
    }
    if (offset < buf.length) {
      // Keep only the tail; copy it when it is a small part of a large chunk so the chunk can be freed.
      const rest = buf.subarray(offset);
      this.#chunks.push(rest.length * 4 < buf.length ? Buffer.from(rest) : rest);
      this.#buffered = rest.length;
      if (rest.length >= HEADER_BYTES)
        this.#needed = 4 + checkHeader(rest.readUInt32BE(0), rest[4] as number);
    }
    return frames;
  }
}

/** Validates a frame header; returns its length field. */
function checkHeader(length: number, kind: number): number {
  if (length < 1 || length > MAX_FRAME_BYTES) throw new FramingError(`frame length ${length} out of range`);
  if (kind !== FrameKind.Json && kind !== FrameKind.Data)
    throw new FramingError(`unknown frame kind ${kind}`);
  if (kind === FrameKind.Data && length < 1 + DATA_PREFIX_BYTES) throw new FramingError('short data frame');
  return length;
}
