/**
 * The byte streams the agent speaks over: its own stdio, a unix socket, or a virtio-serial port.
 */
import { closeSync, createWriteStream, fstatSync, openSync, read, write } from 'node:fs';
import { createConnection, Socket } from 'node:net';
import type { Writable } from 'node:stream';

export interface TransportEvents {
  /** Bytes from the host. */
  onData(chunk: Buffer): void;
  /** The host side went away and may come back (virtio-serial): forget any partial frame. */
  onReset(): void;
  /** The stream ended for good. */
  onEnd(err?: Error): void;
}

export interface Transport {
  /** Writes buffers in order; false when the host is slow and the caller should wait for `onDrain`. */
  write(bufs: Buffer[]): boolean;
  onDrain(listener: () => void): void;
  /** Flushes what is queued (bounded by `timeoutMs`). */
  flush(timeoutMs: number): Promise<void>;
}

export type TransportSpec =
  | { kind: 'stdio' }
  | { kind: 'socket'; path: string }
  | { kind: 'port'; path: string };

/** Past this many queued bytes `write` returns false. */
const HIGH_WATER_BYTES = 1024 * 1024;

export function openTransport(spec: TransportSpec, events: TransportEvents): Transport {
  if (spec.kind === 'port') return openPort(spec.path, events);
  let input: NodeJS.ReadableStream;
  let output: Writable;
  if (spec.kind === 'socket') {
    const sock = createConnection(spec.path);
    input = sock;
    output = sock;
  } else {
    input = process.stdin;
    output = stdoutStream();
  }
  input.on('data', (chunk: Buffer) => events.onData(chunk));
  input.on('end', () => events.onEnd());
  input.on('error', (err: Error) => events.onEnd(err));
  output.on('error', (err: Error) => events.onEnd(err));
  return streamTransport(output);
}

/** fd 1 as a non-blocking stream (process.stdout writes to pipes synchronously). */
function stdoutStream(): Writable {
  const st = fstatSync(1);
  if (st.isFIFO() || st.isSocket()) return new Socket({ fd: 1, readable: false, writable: true });
  // A file or terminal (manual runs): fine to write synchronously.
  return createWriteStream('', { fd: 1, autoClose: false });
}

function streamTransport(output: Writable): Transport {
  return {
    write(bufs) {
      output.cork();
      for (const b of bufs) output.write(b);
      output.uncork();
      return output.writableLength < HIGH_WATER_BYTES;
    },
    onDrain(listener) {
      output.once('drain', listener);
    },
    flush(timeoutMs) {
      if (output.writableLength === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        output.once('drain', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/**
 * A virtio-serial port. Reads return 0 while the host side is not connected (and again after it
 * disconnects, e.g. across a VM snapshot); the agent keeps reading and treats it as a reset.
 */
function openPort(path: string, events: TransportEvents): Transport {
  const fd = openSync(path, 'r+');
  const readBuf = Buffer.allocUnsafe(256 * 1024);
  let connected = false;
  const readLoop = (): void => {
    read(fd, readBuf, 0, readBuf.length, null, (err, n) => {
      if (err) {
        if (err.code === 'EAGAIN' || err.code === 'EINTR') return void setTimeout(readLoop, 20);
        closeSync(fd);
        return events.onEnd(err);
      }
      if (n === 0) {
        if (connected) events.onReset();
        connected = false;
        return void setTimeout(readLoop, 50);
      }
      connected = true;
      events.onData(Buffer.from(readBuf.subarray(0, n)));
      readLoop();
    });
  };
  readLoop();

  const queue: Buffer[] = [];
  let queued = 0;
  let writing = false;
  const drainListeners: Array<() => void> = [];
  const pump = (): void => {
    const next = queue[0];
    if (!next) {
      writing = false;
      for (const l of drainListeners.splice(0)) l();
      return;
    }
    writing = true;
    write(fd, next, 0, next.length, null, (err, n) => {
      if (err) {
        process.stderr.write(`hearth-agent: port write failed: ${err.message}\n`);
        n = next.length; // the host is gone; drop the bytes rather than spin
      }
      queued -= n;
      if (n >= next.length) queue.shift();
      else queue[0] = next.subarray(n);
      pump();
    });
  };
  return {
    write(bufs) {
      for (const b of bufs) {
        if (b.length === 0) continue;
        queue.push(b);
        queued += b.length;
      }
      if (!writing) pump();
      return queued < HIGH_WATER_BYTES;
    },
    onDrain(listener) {
      if (!writing) listener();
      else drainListeners.push(listener);
    },
    flush(timeoutMs) {
      if (!writing) return Promise.resolve();
      return new Promise((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        drainListeners.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
