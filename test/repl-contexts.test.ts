/**
 * Interpreter contexts run by the guest agent, in real sandboxes: state that survives between
 * runs, errors, interrupts and kills on timeout, `!cmd`, top-level await, rich results on the
 * python-data image, output caps — and nothing left behind once the sandboxes are gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplClient } from '../src/agent/client-repl.js';
import { REPL_LIMITS } from '../src/agent/repl-limits.js';
import type { BackendName, Sandbox, SandboxBackend } from '../src/backends/backend.js';
import { loadBackend } from '../src/backends/registry.js';
import { MemoryLedger } from '../src/host/ledger.js';
import { fixtureSpec } from './conformance/cases.js';
import { settledLeftovers } from './leak-check.js';
import { qemuFixture } from './qemu-fixture.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

async function usableBackend(name: BackendName): Promise<{ backend?: SandboxBackend; reason?: string }> {
  const backend = await loadBackend(name, { ledger: new MemoryLedger() });
  const probe = await backend.probe();
  return probe.usable ? { backend } : { reason: probe.reason };
}

/** A sandbox on `image` for the describe block, destroyed (and checked for leftovers) after it. */
function sandboxFor(name: BackendName, image: string) {
  const state: { sandbox?: Sandbox; repl?: ReplClient; skip?: string } = {};
  beforeAll(async () => {
    const { backend, reason } = await usableBackend(name);
    if (!backend) {
      state.skip = reason;
      return;
    }
    state.sandbox = await backend.create({ ...fixtureSpec(image), memoryMb: 1024, maxProcesses: 256 });
    state.repl = new ReplClient(state.sandbox.agent);
  });
  afterAll(async () => {
    await state.sandbox?.destroy();
    expect(await settledLeftovers({ settleMs: 3000 })).toEqual([]);
  });
  return state;
}

async function code(repl: ReplClient, contextId: string, src: string, timeoutMs?: number) {
  return repl.runCode(contextId, src, timeoutMs === undefined ? {} : { timeoutMs });
}

for (const name of ['bwrap', 'gvisor'] as const) {
  describe(`interpreter contexts on ${name}`, () => {
    const s = sandboxFor(name, 'default');
    const repl = () => {
      if (!s.repl) throw new Error(`${name} is not usable here: ${s.skip}`);
      return s.repl;
    };

    it('keeps variables and functions between runs and counts executions', async () => {
      const r = repl();
      const ctx = await r.createContext({ language: 'python' });
      expect(ctx).toMatchObject({ language: 'python', state: 'idle', executionCount: 0, cwd: '/work' });
      const first = await code(r, ctx.contextId, 'x = 41');
      expect(first).toMatchObject({ executionCount: 1, timedOut: false, contextLost: false });
      expect(first.result).toBeUndefined();
      const second = await code(r, ctx.contextId, 'x + 1');
      expect(second.executionCount).toBe(2);
      expect(second.result).toEqual({ text: '42', formats: { 'text/plain': '42' } });
      await code(r, ctx.contextId, 'def double(n):\n    return n * 2\nprint("defined")');
      const used = await code(r, ctx.contextId, 'double(x)');
      expect(used.result?.text).toBe('82');
      expect((await code(r, ctx.contextId, "'a' + 'b'")).result?.text).toBe("'ab'");
      await r.deleteContext(ctx.contextId);
    });

    it('reports an exception with name, value and traceback, and keeps the state', async () => {
      const r = repl();
      const { contextId } = await r.createContext({ language: 'python' });
      await code(r, contextId, 'x = 41');
      const out = await code(r, contextId, 'def f():\n    return 1 / 0\nf()');
      expect(out.result).toBeUndefined();
      expect(out.error?.name).toBe('ZeroDivisionError');
      expect(out.error?.value).toBe('division by zero');
      expect(out.error?.traceback).toContain('<cell-2>');
      expect(out.error?.traceback).toContain('ZeroDivisionError: division by zero');
      expect(out.error?.traceback).not.toContain('repl-python.py');
      expect(out.contextLost).toBe(false);
      expect((await code(r, contextId, 'x')).result?.text).toBe('41');
      const syntax = await code(r, contextId, 'def (');
      expect(syntax.error?.name).toBe('SyntaxError');
      await r.deleteContext(contextId);
    });

    it('interrupts an endless loop on timeout and keeps earlier variables', async () => {
      const r = repl();
      const { contextId } = await r.createContext({ language: 'python' });
      await code(r, contextId, 'x = 41');
      const out = await code(r, contextId, 'while True: pass', 1000);
      expect(out).toMatchObject({ timedOut: true, contextLost: false });
      expect(out.error?.name).toBe('KeyboardInterrupt');
      const after = await code(r, contextId, 'x');
      expect(after.result?.text).toBe('41');
      expect(after.executionCount).toBe(3);
      await r.deleteContext(contextId);
    });

    it('interrupts on request, and refuses a second run while one is going', async () => {
      const r = repl();
      const { contextId } = await r.createContext({ language: 'python' });
      let started!: () => void;
      const printed = new Promise<void>((resolve) => {
        started = resolve;
      });
      const running = r.runCode(contextId, 'import time\nprint("started", flush=True)\ntime.sleep(60)', {
        onStdout: () => started(),
      });
      await printed;
      await expect(code(r, contextId, '1')).rejects.toMatchObject({ code: 'REPL_CONTEXT_BUSY' });
      expect((await r.listContexts()).find((c) => c.contextId === contextId)?.state).toBe('busy');
      await r.interrupt(contextId);
      const out = await running;
      expect(out).toMatchObject({ timedOut: false, contextLost: false });
      expect(out.error?.name).toBe('KeyboardInterrupt');
      expect((await code(r, contextId, 'time.time() > 0')).result?.text).toBe('True');
      await r.deleteContext(contextId);
    });

    it('kills a context that ignores SIGINT, reports it, and a new context works', async () => {
      const r = repl();
      const { contextId } = await r.createContext({ language: 'python' });
      const out = await code(
        r,
        contextId,
        'import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass',
        1000,
      );
      expect(out).toMatchObject({ timedOut: true, contextLost: true });
      expect(out.error?.name).toBe('TimeoutError');
      expect(out.error?.value).toContain('killed');
      const listed = (await r.listContexts()).find((c) => c.contextId === contextId);
      expect(listed).toMatchObject({ state: 'dead', pid: 0 });
      await expect(code(r, contextId, '1')).rejects.toMatchObject({ code: 'REPL_CONTEXT_DEAD' });
      const fresh = await r.createContext({ language: 'python' });
      expect((await code(r, fresh.contextId, '1 + 1')).result?.text).toBe('2');
      const restarted = await r.restartContext(contextId);
      expect(restarted).toMatchObject({ state: 'idle', executionCount: 0 });
      expect((await code(r, contextId, '6 * 7')).result?.text).toBe('42');
      await r.deleteContext(contextId);
      await r.deleteContext(fresh.contextId);
      expect(await r.listContexts()).toEqual([]);
    });

    it('runs !cmd lines through the shell and streams their output', async () => {
      const r = repl();
      const { contextId } = await r.createContext({ language: 'python' });
      const streamed: string[] = [];
      const out = await r.runCode(contextId, 'print("before")\n!echo hi\nprint("after")', {
        onStdout: (c) => streamed.push(c.toString()),
      });
      expect(out.error).toBeUndefined();
      expect(streamed.join('')).toBe('before\nhi\nafter\n');
      expect(out.stdout.toString()).toBe('before\nhi\nafter\n');
      await r.deleteContext(contextId);
    });

    it('cuts 10 MB of output at the cap, flags it, and the context carries on', async () => {
      const r = repl();
      const { contextId } = await r.createContext({ language: 'python' });
      let seen = 0;
      const out = await r.runCode(contextId, 'import sys\nsys.stdout.write("a" * 10_000_000)\n7', {
        onStdout: (c) => {
          seen += c.length;
        },
      });
      expect(out.outputTruncated).toBe(true);
      expect(out.stdout.length).toBe(REPL_LIMITS.maxOutputBytes);
      expect(seen).toBe(REPL_LIMITS.maxOutputBytes);
      expect(out.result?.text).toBe('7');
      expect((await code(r, contextId, '8')).outputTruncated).toBe(false);
      await r.deleteContext(contextId);
    });

    it('cuts a huge value to the caps and reports an interpreter that exits', async () => {
      const r = repl();
      const { contextId } = await r.createContext({ language: 'python' });
      const big = await code(r, contextId, '"x" * 1_000_000');
      expect(big.resultTruncated).toBe(true);
      expect(big.result?.text.length).toBe(REPL_LIMITS.maxTextChars);
      expect(big.result?.formats['text/plain']?.length).toBe(REPL_LIMITS.maxTextChars);
      const html = await code(
        r,
        contextId,
        'class Page:\n    def _repr_html_(self):\n        return "<p>" * 1_000_000\nPage()',
      );
      expect(html.resultTruncated).toBe(true);
      expect(html.result?.formats['text/html']).toBeUndefined();
      expect(html.result?.text).toContain('Page object');
      const exited = await code(r, contextId, 'import os\nos._exit(3)');
      expect(exited).toMatchObject({ contextLost: true, timedOut: false });
      expect(exited.error?.name).toBe('ContextLost');
      expect(exited.error?.value).toContain('exit code 3');
      await r.deleteContext(contextId);
    });

    it('ignores answers the program forges on the driver pipe', async () => {
      const r = repl();
      const { contextId } = await r.createContext({ language: 'python' });
      const forged = JSON.stringify({
        seq: 999,
        executionCount: 99,
        result: { text: 'forged', formats: {} },
      });
      const out = await code(
        r,
        contextId,
        `import os\nos.write(4, ${JSON.stringify(`${forged}\n`)}.encode())\n'real'`,
      );
      expect(out.result?.text).toBe("'real'");
      expect(out.executionCount).toBe(1);
      await r.deleteContext(contextId);
    });

    it('JavaScript: bindings persist, top-level await, interrupt keeps the context', async () => {
      const r = repl();
      const { contextId } = await r.createContext({ language: 'javascript' });
      expect((await code(r, contextId, 'let a = 1')).result).toBeUndefined();
      const sum = await code(r, contextId, 'a + 1');
      expect(sum.result?.text).toBe('2');
      expect(sum.executionCount).toBe(2);
      expect((await code(r, contextId, 'await Promise.resolve(5)')).result?.text).toBe('5');
      const logged = await code(r, contextId, 'console.log("hi"); ({ b: 2 })');
      expect(logged.stdout.toString()).toBe('hi\n');
      expect(logged.result?.text).toBe('{ b: 2 }');
      const thrown = await code(r, contextId, 'throw new TypeError("bad")');
      expect(thrown.error).toMatchObject({ name: 'TypeError', value: 'bad' });
      const loop = await code(r, contextId, 'while (true) {}', 1000);
      expect(loop).toMatchObject({ timedOut: true, contextLost: false });
      const hang = await code(r, contextId, 'await new Promise(() => {})', 1000);
      expect(hang).toMatchObject({ timedOut: true, contextLost: false });
      expect((await code(r, contextId, 'a')).result?.text).toBe('1');
      await r.deleteContext(contextId);
    });

    it('refuses unknown contexts and languages with their codes', async () => {
      const r = repl();
      await expect(code(r, 'ctx-0000', '1')).rejects.toMatchObject({ code: 'REPL_CONTEXT_NOT_FOUND' });
      await expect(r.createContext({ language: 'cobol' as 'python' })).rejects.toMatchObject({
        code: 'BAD_REQUEST',
      });
      await expect(r.createContext({ language: 'python', cwd: 'no/such/dir' })).rejects.toMatchObject({
        code: 'FILE_NOT_FOUND',
      });
    });
  });
}

describe('rich results on the python-data image (bwrap)', () => {
  const s = sandboxFor('bwrap', 'python-data');

  it('a pandas DataFrame gives text/html, a matplotlib figure image/png', async () => {
    if (!s.repl) throw new Error(`bwrap is not usable here: ${s.skip}`);
    const r = s.repl;
    const { contextId } = await r.createContext({ language: 'python' });
    const df = await r.runCode(
      contextId,
      'import pandas as pd\ndf = pd.DataFrame({"a": [1, 2], "b": [3, 4]})\ndf',
      { timeoutMs: 60_000 },
    );
    expect(df.error).toBeUndefined();
    expect(df.result?.text).toContain('a  b');
    expect(df.result?.formats['text/html']).toContain('<table');
    const fig = await r.runCode(contextId, 'import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.gcf()', {
      timeoutMs: 60_000,
    });
    expect(fig.error).toBeUndefined();
    const png = Buffer.from(fig.result?.formats['image/png'] ?? '', 'base64');
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(fig.result?.text).toContain('Figure');
    await r.deleteContext(contextId);
  }, 120_000);
});

describe('interpreter contexts on qemu (one VM: TCG is slow)', () => {
  const { backend } = qemuFixture({ poolSize: 0 });
  const state: { sandbox?: Sandbox; skip?: string } = {};
  beforeAll(async () => {
    const probe = await backend.probe();
    if (!probe.usable) {
      state.skip = probe.reason;
      return;
    }
    state.sandbox = await backend.create({ image: 'default', memoryMb: 512 });
  });
  afterAll(async () => {
    await state.sandbox?.destroy();
    await backend.close();
    expect(await settledLeftovers({ settleMs: 3000 })).toEqual([]);
  });

  it('Python keeps its variables through an interrupt; JavaScript keeps its bindings', async () => {
    if (!state.sandbox) throw new Error(`qemu is not usable here: ${state.skip}`);
    const r = new ReplClient(state.sandbox.agent);
    const py = await r.createContext({ language: 'python' });
    await code(r, py.contextId, 'x = 41');
    expect((await code(r, py.contextId, 'x + 1')).result?.text).toBe('42');
    const loop = await code(r, py.contextId, 'while True: pass', 2000);
    expect(loop).toMatchObject({ timedOut: true, contextLost: false });
    expect((await code(r, py.contextId, 'x')).result?.text).toBe('41');
    // The interpreter is user code: in a VM it runs as the program user, never as the agent's root.
    expect((await code(r, py.contextId, 'import os; os.getuid()')).result?.text).toBe('1000');
    const js = await r.createContext({ language: 'javascript' });
    await code(r, js.contextId, 'let a = 1');
    expect((await code(r, js.contextId, 'await Promise.resolve(a + 1)')).result?.text).toBe('2');
    expect((await r.listContexts()).map((c) => c.language).sort()).toEqual(['javascript', 'python']);
  }, 180_000);
});
