/**
 * A hostile guest: the other end of an AgentClient's streams, scripted by the test. It stands for
 * an agent a program in the sandbox has taken over, which can write any bytes it likes. It answers
 * `hello` correctly (unless told otherwise) and then does only what the test makes it do.
 */
import { PassThrough } from 'node:stream';
import { AgentClient, type AgentConnectOptions } from '../src/agent/client.js';
import { encodeData, encodeJson, FrameDecoder } from '../src/agent/framing.js';
import { FrameKind, type HelloInfo, type Stream } from '../src/agent/protocol.js';

export const GOOD_HELLO: HelloInfo = {
  agentVersion: '0.1.0',
  protocolVersion: 1,
  capabilities: ['exec', 'files'],
  pid: 42,
  workDir: '/work',
  limitMechanism: 'rlimit',
};

export interface HostileGuest {
  client: AgentClient;
  /** Every JSON message the host sent, in order. */
  received: Array<Record<string, unknown>>;
  /** Resolves with the first host message (already received or to come) that matches. */
  next(pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  send(bytes: Buffer): void;
  json(msg: unknown): void;
  data(channel: number, stream: Stream, bytes: Buffer): void;
  /** The error the client closed with, once it has. */
  closedWith: Promise<Error | undefined>;
}

export async function hostileGuest(
  opts: { hello?: unknown; beforeHello?: unknown } & Partial<
    Omit<AgentConnectOptions, 'readable' | 'writable'>
  > = {},
): Promise<HostileGuest> {
  const toHost = new PassThrough();
  const fromHost = new PassThrough();
  const decoder = new FrameDecoder();
  const received: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  fromHost.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) {
      if (f.kind !== FrameKind.Json) continue;
      const msg = JSON.parse(f.text) as Record<string, unknown>;
      received.push(msg);
      if (msg.type === 'hello' && 'beforeHello' in opts) toHost.write(encodeJson(opts.beforeHello));
      if (msg.type === 'hello')
        toHost.write(
          encodeJson({
            type: 'result',
            id: msg.id,
            ok: true,
            value: 'hello' in opts ? opts.hello : GOOD_HELLO,
          }),
        );
    }
    for (const w of waiters.splice(0)) w();
  });
  const next = async (pred: (m: Record<string, unknown>) => boolean) => {
    for (;;) {
      const m = received.find(pred);
      if (m) return m;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  const { hello: _h, beforeHello: _b, ...connect } = opts;
  const client = await AgentClient.connect({ readable: toHost, writable: fromHost, ...connect });
  const closedWith = new Promise<Error | undefined>((r) => client.onClose(r));
  return {
    client,
    received,
    next,
    send: (b) => toHost.write(b),
    json: (m) => toHost.write(encodeJson(m)),
    data: (channel, stream, bytes) => {
      for (const b of encodeData(channel, stream, bytes)) toHost.write(b);
    },
    closedWith,
  };
}

/** A JSON frame with exactly this text as its body (for text JSON.stringify cannot produce). */
export function rawJsonFrame(text: string): Buffer {
  const body = Buffer.from(text);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length + 1, 0);
  head[4] = FrameKind.Json;
  return Buffer.concat([head, body]);
}
