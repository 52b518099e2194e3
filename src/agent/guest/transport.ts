/**
 * The byte streams the agent speaks over: its own stdio, a unix socket, or a virtio-serial port.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, fstatSync } from 'node:fs';
import { createConnection, Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';

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
  | { kind: 'port'; path: string }
  | { kind: 'vsock'; port: number };

/** Past this many queued bytes `write` returns false. */
const HIGH_WATER_BYTES = 1024 * 1024;

/** Opens the transport; `shim` is needed for `port`. */
export function openTransport(
  spec: TransportSpec,
  shim: string | undefined,
  events: TransportEvents,
): Transport {
  if (spec.kind === 'port') return openRelay(['--relay', spec.path], shim, events);
  if (spec.kind === 'vsock') return openRelay(['--vsock-listen', String(spec.port)], shim, events);
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
 * A virtio-serial port or a vsock listener, through the shim's relay: Node can read a character
 * device only with blocking reads on its thread pool (which also keep the process from exiting)
 * and has no AF_VSOCK. The relay turns either into pipes and reports on fd 3 when the host side
 * went away (e.g. across a VM snapshot).
 */
function openRelay(args: string[], shim: string | undefined, events: TransportEvents): Transport {
  if (!shim) throw new Error(`${args.join(' ')} needs the exec shim (set HEARTH_SHIM)`);
  const relay = spawn(shim, args, { stdio: ['pipe', 'pipe', 'inherit', 'pipe'] });
  const input = relay.stdout as Readable;
  const output = relay.stdin as Writable;
  input.on('data', (chunk: Buffer) => events.onData(chunk));
  input.on('end', () => events.onEnd(new Error(`the relay (${args.join(' ')}) ended`)));
  relay.on('error', (err) => events.onEnd(err));
  output.on('error', (err: Error) => events.onEnd(err));
  (relay.stdio[3] as Readable).on('data', () => events.onReset());
  return streamTransport(output);
}
