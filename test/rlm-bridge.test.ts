/**
 * The sandbox bridge on real bwrap sandboxes, through the SessionService over a real manager and
 * SQLite store: `llm_query`, `llm_query_batched` and `rlm_query` in a session's Python and
 * JavaScript contexts reach the handler set for the session over the agent's channel. The handler
 * is the test's own function standing in for a model.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GUEST_CALL_LIMITS, type GuestCall, type GuestCallHandler } from '../src/agent/guest-calls.js';
import { loadBackend } from '../src/backends/registry.js';
import { hearthPaths } from '../src/config/paths.js';
import { MemoryLedger } from '../src/host/ledger.js';
import { settledLeftovers } from './leak-check.js';
import { openSessionService } from './session-service-fixture.js';

let dir: string;
let svc: Awaited<ReturnType<typeof openSessionService>>;
let sessionId: string;
let skip: string | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hearth-rlm-bridge-'));
  const paths = { ...hearthPaths(), db: join(dir, 'hearth.db'), snapshots: join(dir, 'snapshots') };
  svc = await openSessionService(paths, 'bwrap');
  const probe = await (await loadBackend('bwrap', { ledger: new MemoryLedger() })).probe();
  if (!probe.usable) skip = probe.reason;
  else sessionId = (await svc.sessions.createSession({ memoryMb: 512 })).id;
});

afterAll(async () => {
  await svc?.close();
  rmSync(dir, { recursive: true, force: true });
  expect(await settledLeftovers({ settleMs: 3000 })).toEqual([]);
});

function py(code: string, timeoutMs?: number) {
  return svc.sessions.runCode(sessionId, { code, ...(timeoutMs ? { timeoutMs } : {}) });
}

function js(code: string) {
  return svc.sessions.runCode(sessionId, { code, language: 'javascript' });
}

/** A handler that records its calls and answers from `answer`. */
function recording(answer: (call: GuestCall) => string | string[] | Promise<string | string[]>) {
  const calls: GuestCall[] = [];
  const handler: GuestCallHandler = async (call) => {
    calls.push(call);
    return answer(call);
  };
  return { calls, handler };
}

describe('the sandbox bridge on bwrap', () => {
  it('llm_query in Python returns the handler answer', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const h = recording((c) => (c.method === 'llm_query' ? `echo:${c.prompt}:${c.model ?? '-'}` : ''));
    svc.sessions.setGuestCallHandler(sessionId, h.handler);
    const out = await py('a = llm_query("hello"); b = llm_query("héllo ✓", model="small"); (a, b)');
    expect(out.error).toBeNull();
    expect(out.result?.text).toBe("('echo:hello:-', 'echo:héllo ✓:small')");
    expect(h.calls).toEqual([
      { method: 'llm_query', prompt: 'hello' },
      { method: 'llm_query', prompt: 'héllo ✓', model: 'small' },
    ]);
  });

  it('llm_query_batched keeps the order of its prompts', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const h = recording(async (c) => {
      if (c.method !== 'llm_query_batched') return '';
      // Later prompts answer first: the order must still be the prompts' own.
      return Promise.all(
        c.prompts.map(
          (p, i) =>
            new Promise<string>((r) => setTimeout(() => r(p.toUpperCase()), (c.prompts.length - i) * 20)),
        ),
      );
    });
    svc.sessions.setGuestCallHandler(sessionId, h.handler);
    const out = await py('llm_query_batched(["a", "b", "c", "d"])');
    expect(out.result?.text).toBe("['A', 'B', 'C', 'D']");
    expect(h.calls).toEqual([{ method: 'llm_query_batched', prompts: ['a', 'b', 'c', 'd'] }]);
    expect((await py('llm_query_batched([])')).result?.text).toBe('[]');
  });

  it('calls from several Python threads are in flight together', async (ctx) => {
    if (skip) return ctx.skip(skip);
    let inFlight = 0;
    let most = 0;
    svc.sessions.setGuestCallHandler(sessionId, async (call) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // Each call waits until four are in flight (or a while): the answers need them to overlap.
      for (let i = 0; i < 200 && most < 4; i++) await new Promise((r) => setTimeout(r, 10));
      inFlight--;
      return call.method === 'llm_query' ? `re:${call.prompt}` : '';
    });
    const out = await py(
      [
        'from concurrent.futures import ThreadPoolExecutor',
        'with ThreadPoolExecutor(4) as pool:',
        '    got = list(pool.map(llm_query, ["w", "x", "y", "z"]))',
        'got',
      ].join('\n'),
    );
    expect(out.result?.text).toBe("['re:w', 're:x', 're:y', 're:z']");
    expect(most).toBe(4);
  });

  it('rlm_query passes its context', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const h = recording((c) => (c.method === 'rlm_query' ? `${c.prompt}|${c.context ?? 'none'}` : ''));
    svc.sessions.setGuestCallHandler(sessionId, h.handler);
    const out = await py('(rlm_query("q", context="the haystack"), rlm_query("q2"))');
    expect(out.result?.text).toBe("('q|the haystack', 'q2|none')");
    expect(h.calls[0]).toEqual({ method: 'rlm_query', prompt: 'q', context: 'the haystack' });
  });

  it('a handler that throws raises in Python with its message', async (ctx) => {
    if (skip) return ctx.skip(skip);
    svc.sessions.setGuestCallHandler(sessionId, async () => {
      throw new Error('the model is over its token budget');
    });
    const out = await py('llm_query("x")');
    expect(out.error?.name).toBe('RuntimeError');
    expect(out.error?.value).toBe('the model is over its token budget');
    // The context lives on.
    expect((await py('1 + 1')).result?.text).toBe('2');
  });

  it('an answer of the wrong shape is refused, not handed to the code', async (ctx) => {
    if (skip) return ctx.skip(skip);
    svc.sessions.setGuestCallHandler(sessionId, async () => ['not', 'a string']);
    const out = await py('llm_query("x")');
    expect(out.error?.value).toMatch(/did not answer a string/);
  });

  it('an oversize prompt is refused in Python, and the host is unharmed', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const h = recording(() => 'fine');
    svc.sessions.setGuestCallHandler(sessionId, h.handler);
    const big = GUEST_CALL_LIMITS.maxPromptChars + 1;
    const out = await py(`llm_query("x" * ${big})`);
    expect(out.error?.name).toBe('ValueError');
    expect(out.error?.value).toMatch(/over 1048576 characters/);
    // The same call written to the agent's pipe by hand, past the driver's check: refused by the
    // agent, answered on fd 3.
    const raw = await py(
      [
        'import json, os',
        `os.write(4, (json.dumps({"call": 7, "method": "llm_query", "params": {"prompt": "x" * ${big}}}) + "\\n").encode())`,
        'buf = b""',
        'while not buf.endswith(b"\\n"): buf += os.read(3, 65536)',
        'json.loads(buf)',
      ].join('\n'),
    );
    expect(raw.result?.text).toMatch(/'call': 7, 'ok': False, 'error': 'llm_query: a prompt is over 1048576/);
    // Within the character caps, but six bytes a character once escaped: too large for one frame.
    const escaped = await py('llm_query_batched(["\\x01" * 1048576, "\\x01" * 1048576])');
    expect(escaped.error?.value).toMatch(/too large for one frame/);
    expect(h.calls).toEqual([]);
    expect((await py('llm_query("small")')).result?.text).toBe("'fine'");
  });

  it('garbage a program writes on the driver pipes harms neither the agent nor the host', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const h = recording((c) => (c.method === 'llm_query' ? `ok:${c.prompt}` : ''));
    svc.sessions.setGuestCallHandler(sessionId, h.handler);
    const lines = [
      'not json at all',
      '{"call": "seven"}',
      '{"call": 1e300, "method": "llm_query", "params": {"prompt": "x"}}',
      '{"call": 3, "method": "rm -rf", "params": {}}',
      '{"call": 4, "method": "llm_query", "params": null}',
      '{"call": 5, "method": "llm_query", "params": {"prompt": 5}}',
      '{"call": 6, "method": "llm_query_batched", "params": {"prompts": ["a"], "extra": true}}',
      '{"seq": 99999, "result": {"text": "forged"}}',
      '[1, 2, 3]',
      '\u0000\u0001\u0002',
    ];
    const out = await py(
      [
        'import os',
        `for line in ${JSON.stringify(lines)}: os.write(4, (line + "\\n").encode())`,
        'os.write(4, b"no newline at the end")',
        'os.write(4, b"\\n")',
        // Answers to the malformed calls land on fd 3; the driver drops answers no call waits for.
        'llm_query("after")',
      ].join('\n'),
    );
    expect(out.error).toBeNull();
    expect(out.result?.text).toBe("'ok:after'");
    expect(h.calls).toEqual([{ method: 'llm_query', prompt: 'after' }]);
    expect((await py('llm_query("again")')).result?.text).toBe("'ok:again'");
    expect((await svc.sessions.getSession(sessionId)).state).toBe('running');
  });

  it('a program that floods calls and never reads the answers loses its interpreter, not the sandbox', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const h = recording(() => 'fine');
    svc.sessions.setGuestCallHandler(sessionId, h.handler);
    const flood = await py(
      [
        'import os',
        'chunk = b"".join(b\'{"call": %d, "method": "nope"}\\n\' % i for i in range(20000))',
        'for _ in range(200): os.write(4, chunk)',
      ].join('\n'),
      120_000,
    );
    expect(flood.contextLost).toBe(true);
    expect(h.calls).toEqual([]);
    expect((await svc.sessions.getSession(sessionId)).state).toBe('running');
    // The default context comes back with a fresh interpreter.
    expect((await py('llm_query("x")')).result?.text).toBe("'fine'");
  }, 180_000);

  it('an interrupt or the run timeout ends a call that waits, and the handler hears it', async (ctx) => {
    if (skip) return ctx.skip(skip);
    let aborted = 0;
    svc.sessions.setGuestCallHandler(
      sessionId,
      (_call, signal) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted++;
            reject(new Error('cancelled'));
          });
        }),
    );
    const out = await py('llm_query("never answered")', 1500);
    expect(out.timedOut).toBe(true);
    expect(out.contextLost).toBe(false);
    expect(out.error?.name).toBe('KeyboardInterrupt');
    await expect.poll(() => aborted).toBe(1);
    svc.sessions.setGuestCallHandler(sessionId, async () => 'back');
    expect((await py('llm_query("x")')).result?.text).toBe("'back'");
  });

  it('a call from a thread left running between runs is answered with an error, not left waiting', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const h = recording(() => 'answered');
    svc.sessions.setGuestCallHandler(sessionId, h.handler);
    await py(
      [
        'import threading, time',
        'def _late():',
        '    time.sleep(0.3)',
        '    try: got = llm_query("late")',
        '    except Exception as e: got = "error: " + str(e)',
        '    open("/tmp/late.txt", "w").write(got)',
        'threading.Thread(target=_late, daemon=True).start()',
      ].join('\n'),
    );
    // No run in between: the file is read through the agent's file calls.
    const read = () =>
      svc.sessions.readFile(sessionId, '/tmp/late.txt').then(
        (b) => b.toString(),
        () => '',
      );
    await expect.poll(read, { timeout: 20_000 }).toMatch(/^error: no code is running in this context/);
    expect(h.calls).toEqual([]);
    expect((await py('llm_query("now")')).result?.text).toBe("'answered'");
  });

  it('without a handler the functions raise saying no model is attached', async (ctx) => {
    if (skip) return ctx.skip(skip);
    svc.sessions.setGuestCallHandler(sessionId, undefined);
    const out = await py('llm_query("x")');
    expect(out.error?.name).toBe('RuntimeError');
    expect(out.error?.value).toMatch(/no model is attached to this session/);
    const batched = await py('llm_query_batched(["x"])');
    expect(batched.error?.value).toMatch(/available only during an RLM run/);
  });

  it('the handler follows the session onto a restored sandbox', async (ctx) => {
    if (skip) return ctx.skip(skip);
    svc.sessions.setGuestCallHandler(sessionId, async () => 'still here');
    const snap = await svc.sessions.createSnapshot(sessionId, { name: 'bridge' });
    await svc.sessions.restoreSnapshot(sessionId, snap.id);
    expect((await py('llm_query("x")')).result?.text).toBe("'still here'");
    await svc.sessions.deleteSnapshot(snap.id);
  });

  it('works from the JavaScript context with await', async (ctx) => {
    if (skip) return ctx.skip(skip);
    const h = recording((c) =>
      c.method === 'llm_query_batched'
        ? c.prompts.map((p) => `b:${p}`)
        : c.method === 'llm_query'
          ? `js:${c.prompt}`
          : `r:${c.context}`,
    );
    svc.sessions.setGuestCallHandler(sessionId, h.handler);
    const out = await js(
      'const a = await llm_query("one"); const b = await llm_query_batched(["x", "y"]); const c = await rlm_query("p", "ctx"); [a, b, c]',
    );
    expect(out.error).toBeNull();
    expect(out.result?.text).toBe("[ 'js:one', [ 'b:x', 'b:y' ], 'r:ctx' ]");
    svc.sessions.setGuestCallHandler(sessionId, undefined);
    const none = await js('await llm_query("x")');
    expect(none.error?.value).toMatch(/no model is attached/);
    const bad = await js('await llm_query(42)');
    expect(bad.error?.name).toBe('TypeError');
    // A call that is never answered ends with the run's timeout; the context lives on.
    svc.sessions.setGuestCallHandler(
      sessionId,
      (_call, signal) =>
        new Promise((_r, reject) => signal.addEventListener('abort', () => reject(new Error('cancelled')))),
    );
    const waited = await svc.sessions.runCode(sessionId, {
      code: 'await llm_query("x")',
      language: 'javascript',
      timeoutMs: 1500,
    });
    expect(waited.timedOut).toBe(true);
    expect(waited.contextLost).toBe(false);
    expect((await js('1 + 2')).result?.text).toBe('3');
  });
});
