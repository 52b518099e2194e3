/**
 * The host's side of guest calls against a hostile guest (a scripted stand-in for an agent a
 * program has taken over): every call gets exactly one answer, malformed and oversize calls are
 * refused with an error, concurrent calls are bounded, answers are checked and bounded, handlers
 * hear when the run that made the call ends or the connection closes, and nothing a call carries
 * ends the connection. And the real guest agent's side, driven by a raw host: it sends no call to
 * a host that did not announce `guest-calls`, and drops answers no call waits for.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ReplClient } from '../src/agent/client-repl.js';
import { encodeJson, FrameDecoder } from '../src/agent/framing.js';
import { GUEST_CALL_LIMITS, type GuestCallHandler } from '../src/agent/guest-calls.js';
import { FrameKind } from '../src/agent/protocol.js';
import { spawnAgent, stopAll } from './agent-fixture.js';
import { GOOD_HELLO, type HostileGuest, hostileGuest } from './hostile-guest.js';

const HELLO = { ...GOOD_HELLO, capabilities: ['exec', 'files', 'repl', 'guest-calls'] };

/** A hostile guest with a repl-run pending on the host (its id is the channel calls name). */
async function withRun(handler?: GuestCallHandler) {
  const g = await hostileGuest({ hello: HELLO });
  if (handler) g.client.setCallHandler(handler);
  const run = new ReplClient(g.client).runCode('ctx-1', 'x', { timeoutMs: 60_000 });
  run.catch(() => {});
  const msg = await g.next((m) => m.type === 'repl-run');
  return { g, run, channel: msg.id as number };
}

function answerFor(g: HostileGuest, id: number) {
  return g.next((m) => m.type === 'call-result' && m.id === id);
}

const RUN_RESULT = {
  executionCount: 1,
  timedOut: false,
  outputTruncated: false,
  contextLost: false,
  resultTruncated: false,
};

describe('guest calls on the host', () => {
  it('says in hello that it answers calls', async () => {
    const g = await hostileGuest({ hello: HELLO });
    expect(g.received[0]).toMatchObject({ type: 'hello', capabilities: ['guest-calls'] });
    await g.client.close();
  });

  it('answers a call with the handler value, and a batch with its strings', async () => {
    const { g, channel } = await withRun(async (call) =>
      call.method === 'llm_query_batched' ? call.prompts.map((p) => `<${p}>`) : `got ${call.method}`,
    );
    g.json({ type: 'call', id: 1, channel, method: 'llm_query', params: { prompt: 'hi' } });
    g.json({ type: 'call', id: 2, channel, method: 'llm_query_batched', params: { prompts: ['a', 'b'] } });
    expect(await answerFor(g, 1)).toEqual({ type: 'call-result', id: 1, ok: true, value: 'got llm_query' });
    expect(await answerFor(g, 2)).toEqual({ type: 'call-result', id: 2, ok: true, value: ['<a>', '<b>'] });
    expect(g.client.closed).toBe(false);
    await g.client.close();
  });

  it('refuses malformed and oversize calls with an error answer, never ending the connection', async () => {
    let handled = 0;
    const { g, channel } = await withRun(async () => {
      handled++;
      return 'x';
    });
    const big = 'y'.repeat(GUEST_CALL_LIMITS.maxPromptChars + 1);
    const bad: Array<[string, unknown, RegExp]> = [
      ['nope', {}, /unknown method "nope"/],
      ['llm_query', null, /bad arguments/],
      ['llm_query', { prompt: 3 }, /bad arguments \(\/prompt/],
      ['llm_query', { prompt: 'x', extra: 1 }, /bad arguments/],
      ['llm_query', { prompt: big }, /a prompt is over 1048576 characters/],
      ['llm_query_batched', { prompts: Array(257).fill('p') }, /bad arguments/],
      [
        'llm_query_batched',
        { prompts: ['z'.repeat(1_000_000), 'z'.repeat(1_000_000), 'z'.repeat(200_000)] },
        /over 2097152 characters together/,
      ],
      ['rlm_query', { prompt: 'p', context: 7 }, /bad arguments/],
    ];
    for (const [i, [method, params]] of bad.entries())
      g.json({ type: 'call', id: 100 + i, channel, method, params });
    for (const [i, [, , why]] of bad.entries()) {
      const a = await answerFor(g, 100 + i);
      expect(a).toMatchObject({ ok: false, error: { code: 'GUEST_CALL_FAILED' } });
      expect((a.error as { message: string }).message).toMatch(why);
    }
    expect(handled).toBe(0);
    // A call with no run behind it, on a channel that is no run.
    g.json({ type: 'call', id: 200, channel: channel + 1000, method: 'llm_query', params: { prompt: 'p' } });
    expect(await answerFor(g, 200)).toMatchObject({ ok: false, error: { message: /has ended/ } });
    expect(g.client.closed).toBe(false);
    await g.client.close();
  });

  it('an envelope of the wrong shape is a protocol error, like any malformed message', async () => {
    const { g, channel } = await withRun(async () => 'x');
    g.json({ type: 'call', id: -1, channel, method: 'llm_query', params: {} });
    expect((await g.closedWith)?.message).toMatch(/malformed call/);
  });

  it('bounds the calls in flight and refuses the rest', async () => {
    const release: Array<() => void> = [];
    const { g, channel } = await withRun(() => new Promise((r) => release.push(() => r('late'))));
    const n = GUEST_CALL_LIMITS.maxConcurrentCalls;
    for (let i = 1; i <= n + 2; i++)
      g.json({ type: 'call', id: i, channel, method: 'llm_query', params: { prompt: 'p' } });
    expect(await answerFor(g, n + 1)).toMatchObject({
      ok: false,
      error: { message: /more than 16 calls at once/ },
    });
    expect(await answerFor(g, n + 2)).toMatchObject({ ok: false });
    await expect.poll(() => release.length).toBe(n);
    expect(g.client.callsInFlight).toBe(n);
    for (const r of release) r();
    expect(await answerFor(g, n)).toMatchObject({ ok: true, value: 'late' });
    await expect.poll(() => g.client.callsInFlight).toBe(0);
    await g.client.close();
  });

  it('checks and bounds what the handler answers', async () => {
    const answers: unknown[] = [
      42,
      ['one'],
      'a'.repeat(GUEST_CALL_LIMITS.maxAnswerChars + 1),
      '\u0001'.repeat(1_000_000),
    ];
    const { g, channel } = await withRun(async () => answers.shift() as string);
    for (let id = 1; id <= 4; id++)
      g.json({ type: 'call', id, channel, method: 'llm_query', params: { prompt: 'p' } });
    expect(await answerFor(g, 1)).toMatchObject({ ok: false, error: { message: /did not answer a string/ } });
    expect(await answerFor(g, 2)).toMatchObject({ ok: false });
    expect(await answerFor(g, 3)).toMatchObject({ ok: false, error: { message: /answer is over 2097152/ } });
    // Within the character cap, but six bytes a character once escaped: too large for one frame.
    expect(await answerFor(g, 4)).toMatchObject({ ok: false, error: { message: /too large for one frame/ } });
    g.json({ type: 'call', id: 5, channel, method: 'llm_query_batched', params: { prompts: ['a', 'b'] } });
    answers.push(['only one']);
    expect(await answerFor(g, 5)).toMatchObject({
      ok: false,
      error: { message: /answered 1 strings for 2 prompts/ },
    });
    await g.client.close();
  });

  it('without a handler, every call is answered with no model attached', async () => {
    const { g, channel } = await withRun();
    g.json({ type: 'call', id: 9, channel, method: 'llm_query', params: { prompt: 'p' } });
    expect(await answerFor(g, 9)).toMatchObject({ ok: false, error: { message: /no model is attached/ } });
    await g.client.close();
  });

  it('cancels a call when its run ends, answering at once, and when the connection closes', async () => {
    const signals: AbortSignal[] = [];
    const { g, run, channel } = await withRun((_c, signal) => {
      signals.push(signal);
      return new Promise(() => {});
    });
    g.json({ type: 'call', id: 1, channel, method: 'llm_query', params: { prompt: 'p' } });
    await expect.poll(() => signals.length).toBe(1);
    g.json({ type: 'result', id: channel, ok: true, value: RUN_RESULT });
    await run;
    expect(signals[0]?.aborted).toBe(true);
    expect(await answerFor(g, 1)).toMatchObject({ ok: false, error: { message: /cancelled/ } });

    const second = new ReplClient(g.client).runCode('ctx-1', 'y');
    second.catch(() => {});
    const next = (await g.next((m) => m.type === 'repl-run' && m.id !== channel)).id as number;
    g.json({ type: 'call', id: 2, channel: next, method: 'llm_query', params: { prompt: 'p' } });
    await expect.poll(() => signals.length).toBe(2);
    await g.client.close();
    expect(signals[1]?.aborted).toBe(true);
    await expect(second).rejects.toThrow(/closed/);
  });
});

afterEach(stopAll);

/** The real agent (a local process) driven frame by frame; `hostCaps` is what its hello announces. */
async function rawHost(hostCaps: string[] | undefined) {
  const { child } = spawnAgent();
  const decoder = new FrameDecoder();
  const messages: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) if (f.kind === FrameKind.Json) messages.push(JSON.parse(f.text));
    for (const w of waiters.splice(0)) w();
  });
  const next = async (pred: (m: Record<string, unknown>) => boolean) => {
    for (;;) {
      const m = messages.find(pred);
      if (m) return m;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  const send = (m: unknown) => child.stdin?.write(encodeJson(m));
  send({ type: 'hello', id: 1, protocolVersions: [1], ...(hostCaps ? { capabilities: hostCaps } : {}) });
  const hello = await next((m) => m.id === 1);
  send({ type: 'repl-create', id: 2, language: 'python' });
  const ctx = (await next((m) => m.id === 2)).value as { contextId: string };
  return { messages, next, send, hello, contextId: ctx.contextId };
}

describe('guest calls in the real agent', () => {
  it('sends no call to a host that did not announce guest-calls', async () => {
    const h = await rawHost(undefined);
    expect((h.hello.value as { capabilities: string[] }).capabilities).toContain('guest-calls');
    h.send({ type: 'repl-run', id: 3, contextId: h.contextId, code: 'llm_query("x")' });
    const r = await h.next((m) => m.id === 3);
    expect(r).toMatchObject({ ok: true, value: { error: { name: 'RuntimeError' } } });
    expect((r.value as { error: { value: string } }).error.value).toMatch(/no model is attached/);
    expect(h.messages.some((m) => m.type === 'call')).toBe(false);
  });

  it('forwards a call with its run as channel, and drops forged or late answers', async () => {
    const h = await rawHost(['guest-calls']);
    // Answers no call waits for: dropped, with no result of their own.
    h.send({ type: 'call-result', id: 77, ok: true, value: 'forged' });
    h.send({ type: 'call-result', id: 78, ok: false, error: { code: 'X', message: 'forged' } });
    h.send({ type: 'repl-run', id: 4, contextId: h.contextId, code: 'llm_query("q", model="m")' });
    const call = await h.next((m) => m.type === 'call');
    expect(call).toMatchObject({ channel: 4, method: 'llm_query', params: { prompt: 'q', model: 'm' } });
    h.send({ type: 'call-result', id: call.id, ok: true, value: 'the answer' });
    h.send({ type: 'call-result', id: call.id, ok: true, value: 'a second answer' });
    const r = await h.next((m) => m.id === 4);
    expect(r).toMatchObject({ ok: true, value: { result: { text: "'the answer'" } } });
    expect(h.messages.filter((m) => m.id === 77 || m.id === 78)).toEqual([]);
    // The agent still serves requests.
    h.send({ type: 'ping', id: 5 });
    expect(await h.next((m) => m.id === 5)).toMatchObject({ ok: true });
  });
});
