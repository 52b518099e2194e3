import { PassThrough } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { AgentClient } from '../src/agent/client.js';
import { MAX_LOG_CHARS } from '../src/agent/guest-messages.js';
import { MAX_FRAME_BYTES, Stream } from '../src/agent/protocol.js';
import { AgentWatchdog } from '../src/backends/shared/agent-watchdog.js';
import { HearthError } from '../src/errors/hearth-error.js';
import { GOOD_HELLO, hostileGuest, rawJsonFrame } from './hostile-guest.js';

const EXIT = {
  exitCode: 0,
  signal: null,
  timedOut: false,
  truncated: false,
  outOfMemory: false,
  cpuTimeMs: 1,
  wallTimeMs: 2,
  peakMemoryKb: 3,
};

/** A header announcing a frame longer than any the host accepts. */
function overLongHeader(): Buffer {
  const b = Buffer.alloc(5);
  b.writeUInt32BE(MAX_FRAME_BYTES + 1, 0);
  return b;
}

const MALFORMED: Array<
  [string, (g: Awaited<ReturnType<typeof hostileGuest>>, pingId: number) => void, RegExp]
> = [
  ['a null frame', (g) => g.json(null), /not an object/],
  ['an array', (g) => g.json([1, 2]), /not an object/],
  ['a number', (g) => g.json(7), /not an object/],
  ['text that is not JSON', (g) => g.send(rawJsonFrame('{"type":')), /not JSON/],
  ['an unknown type', (g) => g.json({ type: 'own-the-host', id: 1 }), /unknown type/],
  [
    'a result with ok of the wrong type',
    (g, id) => g.json({ type: 'result', id, ok: 'yes', value: {} }),
    /ok/,
  ],
  [
    'a result for an unknown id',
    (g) => g.json({ type: 'result', id: 999_999_999, ok: true, value: null }),
    /no pending request/,
  ],
  [
    'a result with a wrong value',
    (g, id) => g.json({ type: 'result', id, ok: true, value: { nowMs: 'soon' } }),
    /ping result/,
  ],
  [
    'a result with extra fields',
    (g, id) => g.json({ type: 'result', id, ok: true, value: { nowMs: 1 }, x: 1 }),
    /result/,
  ],
  [
    'a non-finite number',
    (g) =>
      g.send(
        rawJsonFrame(
          `{"type":"exit","id":5,${JSON.stringify(EXIT).slice(1, -1).replace('"cpuTimeMs":1', '"cpuTimeMs":1e400')}}`,
        ),
      ),
    /exit/,
  ],
  ['an exit for no exec', (g) => g.json({ type: 'exit', id: 5, ...EXIT }), /no running exec/],
  ['output on a dead channel', (g) => g.data(77, Stream.Stdout, Buffer.from('x')), /no running exec/],
  ['file data on a dead channel', (g) => g.data(77, Stream.File, Buffer.from('x')), /no file being read/],
  ['stdin from the guest', (g) => g.data(77, Stream.Stdin, Buffer.from('x')), /stream 0/],
  ['an over-long frame', (g) => g.send(overLongHeader()), /undecodable frame/],
  ['an unknown frame kind', (g) => g.send(Buffer.from([0, 0, 0, 1, 9])), /undecodable frame/],
  [
    'an over-long log message',
    (g) => g.json({ type: 'log', level: 'info', message: 'x'.repeat(MAX_LOG_CHARS + 1) }),
    /log/,
  ],
  ['a log of an unknown level', (g) => g.json({ type: 'log', level: 'shout', message: 'hi' }), /log/],
  [
    'a flood of log messages',
    (g) => {
      for (let i = 0; i < 200; i++) g.json({ type: 'log', level: 'info', message: 'spam' });
    },
    /log messages in a second/,
  ],
];

describe('the host client refuses a malformed guest', () => {
  for (const [what, attack, message] of MALFORMED) {
    it(`ends the connection with AGENT_PROTOCOL on ${what}`, async () => {
      const g = await hostileGuest();
      const ping = g.client.ping();
      const { id } = await g.next((m) => m.type === 'ping');
      attack(g, id as number);
      await expect(ping).rejects.toMatchObject({ code: 'AGENT_PROTOCOL', message });
      expect(await g.closedWith).toMatchObject({ code: 'AGENT_PROTOCOL' });
      expect(g.client.closed).toBe(true);
      // Later calls fail at once, nothing hangs.
      await expect(g.client.stat('x')).rejects.toMatchObject({ code: 'SANDBOX_LOST' });
    });
  }

  it('refuses a hello with fields out of bounds', async () => {
    const bad = [
      { ...GOOD_HELLO, pid: -1 },
      { ...GOOD_HELLO, capabilities: Array(1000).fill('x') },
      { ...GOOD_HELLO, agentVersion: 'v'.repeat(1000) },
      { ...GOOD_HELLO, limitMechanism: 'magic' },
      null,
    ];
    for (const hello of bad)
      await expect(hostileGuest({ hello })).rejects.toMatchObject({
        code: 'AGENT_PROTOCOL',
        message: /hello/,
      });
  });

  it('drops a stale answer that arrives before hello (a reconnected port), but not after', async () => {
    const stale = { type: 'result', id: 12345, ok: true, value: GOOD_HELLO };
    const g = await hostileGuest({ beforeHello: stale });
    expect(g.client.closed).toBe(false);
    g.json(stale);
    expect(await g.closedWith).toMatchObject({ code: 'AGENT_PROTOCOL', message: /no pending request/ });
  });

  it('turns a guest error code the guest may not raise into EXEC_FAILED', async () => {
    const g = await hostileGuest();
    const stat = g.client.stat('x');
    const { id } = await g.next((m) => m.type === 'file-stat');
    g.json({ type: 'result', id, ok: false, error: { code: 'UNAUTHORIZED', message: 'forged' } });
    await expect(stat).rejects.toMatchObject({ code: 'EXEC_FAILED', message: 'forged' });
    expect(g.client.closed).toBe(false);
  });
});

describe('the host caps what it accepts', () => {
  it('cuts output at maxOutputBytes, flags it truncated and kills the exec, whatever the guest says', async () => {
    const g = await hostileGuest();
    const run = g.client.run({ argv: ['yes'], limits: { maxOutputBytes: 10 } });
    const { id } = await g.next((m) => m.type === 'exec');
    g.json({ type: 'result', id, ok: true, value: { pid: 9 } });
    g.data(id as number, Stream.Stdout, Buffer.alloc(100, 'y'));
    const kill = await g.next((m) => m.type === 'signal');
    expect(kill).toMatchObject({ channel: id, signal: 'SIGKILL' });
    g.json({ type: 'result', id: kill.id, ok: true, value: null });
    g.data(id as number, Stream.Stderr, Buffer.alloc(100, 'e'));
    g.json({ type: 'exit', id, ...EXIT });
    const r = await run;
    expect(r.stdout.length + r.stderr.length).toBe(10);
    expect(r.truncated).toBe(true);
  });

  it('refuses a file read larger than asked for, and stays connected', async () => {
    const g = await hostileGuest();
    const read = g.client.readFile('big', { maxBytes: 1000 });
    const { id } = await g.next((m) => m.type === 'file-read');
    g.data(id as number, Stream.File, Buffer.alloc(5000));
    g.json({ type: 'result', id, ok: true, value: { size: 5000 } });
    await expect(read).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
    expect(g.client.closed).toBe(false);
  });

  it('refuses a file read whose reported size is not what was sent', async () => {
    const g = await hostileGuest();
    const read = g.client.readFile('f');
    const { id } = await g.next((m) => m.type === 'file-read');
    g.data(id as number, Stream.File, Buffer.alloc(10));
    g.json({ type: 'result', id, ok: true, value: { size: 3 } });
    await expect(read).rejects.toMatchObject({ code: 'AGENT_PROTOCOL', message: /10 bytes/ });
  });
});

describe('the host keeps its own deadlines', () => {
  it('ends an exec the guest never reports as timed out, with the output so far, and gives up the agent', async () => {
    const g = await hostileGuest({ execGraceMs: 100 });
    const chunks: Buffer[] = [];
    const handle = g.client.exec(
      { argv: ['sleep', '100'], limits: { timeoutMs: 200 } },
      { onStdout: (c) => chunks.push(c) },
    );
    const { id } = await g.next((m) => m.type === 'exec');
    g.json({ type: 'result', id, ok: true, value: { pid: 9 } });
    g.data(id as number, Stream.Stdout, Buffer.from('partial'));
    const other = g.client.stat('x');
    const exit = await handle.exit;
    expect(exit).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGKILL' });
    expect(Buffer.concat(chunks).toString()).toBe('partial');
    expect(await g.closedWith).toMatchObject({ code: 'AGENT_TIMEOUT' });
    await expect(other).rejects.toMatchObject({ code: 'AGENT_TIMEOUT' });
  });

  it('counts an exec deadline again from its start, so a slow start does not time it out', async () => {
    const g = await hostileGuest({ execGraceMs: 100 });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const run = g.client.run({ argv: ['true'], limits: { timeoutMs: 1000 } });
      const { id } = await g.next((m) => m.type === 'exec');
      await vi.advanceTimersByTimeAsync(900);
      g.json({ type: 'result', id, ok: true, value: { pid: 9 } });
      // Past the deadline counted from the request (1100 ms), not the one counted from the start.
      await vi.advanceTimersByTimeAsync(900);
      g.json({ type: 'exit', id, ...EXIT });
      expect(await run).toMatchObject({ exitCode: 0, timedOut: false });
      expect(g.client.closed).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('accepts an exit that overtakes its result, and drops a late answer to a timed-out request', async () => {
    const g = await hostileGuest();
    const run = g.client.run({ argv: ['true'] });
    const { id } = await g.next((m) => m.type === 'exec');
    g.json({ type: 'exit', id, ...EXIT });
    g.json({ type: 'result', id, ok: true, value: { pid: 9 } });
    expect((await run).exitCode).toBe(0);
    await expect(g.client.ping(50)).rejects.toMatchObject({ code: 'AGENT_TIMEOUT' });
    const late = g.received.filter((m) => m.type === 'ping').at(-1);
    g.json({ type: 'result', id: late?.id, ok: true, value: { nowMs: 1 } });
    const ping = g.client.ping();
    const second = await g.next((m) => m.type === 'ping' && m.id !== late?.id);
    g.json({ type: 'result', id: second.id, ok: true, value: { nowMs: 2 } });
    expect(await ping).toBeGreaterThan(0);
    expect(g.client.closed).toBe(false);
  });

  it('the watchdog gives up an agent that stops answering pings and kills its sandbox', async () => {
    const g = await hostileGuest();
    const killed = new Promise<Error>((resolve) => {
      new AgentWatchdog(g.client, resolve, { pingIntervalMs: 100, pingMisses: 2, execGraceMs: 100 });
    });
    const run = g.client.run({ argv: ['sleep', 'forever'] });
    const err = await killed;
    expect(err).toBeInstanceOf(HearthError);
    expect(err).toMatchObject({ code: 'AGENT_TIMEOUT', message: /missed 2 pings/ });
    await expect(run).rejects.toMatchObject({ code: 'AGENT_TIMEOUT' });
  });

  it('the watchdog keeps an answering agent and stops when the sandbox is closed on purpose', async () => {
    const g = await hostileGuest();
    let kills = 0;
    const dog = new AgentWatchdog(g.client, () => kills++, {
      pingIntervalMs: 50,
      pingMisses: 1,
      execGraceMs: 0,
    });
    for (let i = 0; i < 3; i++) {
      const ping = await g.next((m) => m.type === 'ping' && !g.received.some((r) => r === m && r.answered));
      ping.answered = true;
      g.json({ type: 'result', id: ping.id, ok: true, value: { nowMs: Date.now() } });
    }
    expect(g.client.closed).toBe(false);
    dog.stop();
    await g.client.close();
    expect(kills).toBe(0);
  });

  it('a stream that ends rejects everything with SANDBOX_LOST', async () => {
    const toHost = new PassThrough();
    const fromHost = new PassThrough();
    fromHost.once('data', () => toHost.end());
    await expect(AgentClient.connect({ readable: toHost, writable: fromHost })).rejects.toMatchObject({
      code: 'SANDBOX_LOST',
    });
  });
});
