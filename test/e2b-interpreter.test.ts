import { Sandbox } from '@e2b/code-interpreter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2bServer } from './e2b-fixture.js';
import { settledLeftovers } from './leak-check.js';

// The published `@e2b/code-interpreter` SDK, unmodified, configured only by E2B_API_URL,
// E2B_SANDBOX_URL and E2B_API_KEY, against a real server on port 0 with real bwrap sandboxes of
// the `code-interpreter-v1` template (hearth's python-data image).
let e2b: Awaited<ReturnType<typeof startE2bServer>>;
let sbx: Sandbox;

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function isPng(base64: string | undefined): boolean {
  return base64 !== undefined && Buffer.from(base64, 'base64').subarray(0, 8).equals(PNG_SIGNATURE);
}

/** Polls hearth's own context list until the context reaches `state`. */
async function waitForState(contextId: string, state: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${e2b.server.url}/v1/sessions/${sbx.sandboxId}/contexts`);
    const { contexts } = (await res.json()) as { contexts: { id: string; state: string }[] };
    if (contexts.find((c) => c.id === contextId)?.state === state) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`context ${contextId} never became ${state}`);
}

describe('E2B code interpreter', () => {
  beforeAll(async () => {
    e2b = await startE2bServer();
    sbx = await Sandbox.create({ metadata: { suite: 'e2b-interpreter' } });
  });
  afterAll(async () => {
    await sbx?.kill();
    await e2b?.close();
    expect(await settledLeftovers()).toEqual([]);
  });

  it('keeps state between runs and counts executions', async () => {
    const first = await sbx.runCode('x = 1');
    expect(first.error).toBeUndefined();
    expect(first.results).toEqual([]);
    const second = await sbx.runCode('x');
    expect(second.text).toBe('1');
    expect(second.executionCount).toBe((first.executionCount ?? 0) + 1);
    expect((await sbx.runCode("'quoted'")).text).toBe('quoted');
  });

  it('streams each print as it happens', async () => {
    // The second print waits for a file that the test writes only once it has heard the first:
    // output held back until the end would make the code print `late` instead.
    const other = await sbx.createCodeContext();
    const chunks: string[] = [];
    const wrote: Promise<unknown>[] = [];
    const code = [
      'import os, time',
      "print('first', flush=True)",
      'for _ in range(300):',
      "    if os.path.exists('go'): break",
      '    time.sleep(0.1)',
      "print('second' if os.path.exists('go') else 'late', flush=True)",
    ].join('\n');
    const run = await sbx.runCode(code, {
      onStdout: (m) => {
        chunks.push(m.line);
        if (m.line.includes('first')) wrote.push(sbx.runCode("open('go', 'w').close()", { context: other }));
      },
    });
    await Promise.all(wrote);
    expect(chunks).toEqual(['first\n', 'second\n']);
    expect(run.logs.stdout).toEqual(['first\n', 'second\n']);
    await sbx.removeCodeContext(other);
    // Long lines of multi-byte characters cross every chunk boundary intact.
    const wide = await sbx.runCode("print('é' * 300_000)\nprint('🦊' * 100_000)\n'ok ✓'");
    expect(wide.logs.stdout.join('')).toBe(`${'é'.repeat(300_000)}\n${'🦊'.repeat(100_000)}\n`);
    expect(wide.text).toBe('ok ✓');
  });

  it('reports an exception as the execution error', async () => {
    const seen: string[] = [];
    const run = await sbx.runCode('def f():\n    return 1 / 0\nf()', { onError: (e) => seen.push(e.name) });
    expect(run.error).toMatchObject({ name: 'ZeroDivisionError', value: 'division by zero' });
    expect(run.error?.traceback).toContain('ZeroDivisionError');
    expect(run.error?.traceback).toContain('return 1 / 0');
    expect(seen).toEqual(['ZeroDivisionError']);
    // The context lives on.
    expect((await sbx.runCode('x + 1')).text).toBe('2');
  });

  it('returns a chart shown with plt.show() as a PNG display, and a Figure value as the main result', async () => {
    const shown = await sbx.runCode(
      'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.title("squares")\nplt.show()',
    );
    expect(shown.error).toBeUndefined();
    expect(shown.results).toHaveLength(1);
    expect(shown.results[0]?.isMainResult).toBe(false);
    expect(isPng(shown.results[0]?.png)).toBe(true);

    const value = await sbx.runCode('fig, ax = plt.subplots()\nax.bar([1, 2], [3, 4])\nfig');
    const main = value.results.filter((r) => r.isMainResult);
    expect(main).toHaveLength(1);
    expect(isPng(main[0]?.png)).toBe(true);
    // The figure is the main result, not shown a second time.
    expect(value.results).toHaveLength(1);

    const displayed = await sbx.runCode('display(41 + 1)\nNone');
    expect(displayed.results.map((r) => [r.isMainResult, r.text])).toEqual([[false, '42']]);
  });

  it("gives hearth's own code route the displays and the run's env too", async () => {
    const res = await fetch(`${e2b.server.url}/v1/sessions/${sbx.sandboxId}/code`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        code: 'import os\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\nos.environ["ONE_RUN"]',
        env: { ONE_RUN: 'yes' },
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      result: { text: string } | null;
      displays?: { formats: Record<string, string> }[];
    };
    expect(body.result?.text).toBe("'yes'");
    expect(body.displays).toHaveLength(1);
    expect(isPng(body.displays?.[0]?.formats['image/png'])).toBe(true);
  });

  it('runs JavaScript, TypeScript and bash', async () => {
    const js = await sbx.runCode('const a = 2; a * 21', { language: 'js' });
    expect(js.text).toBe('42');
    expect((await sbx.runCode('a + 1', { language: 'javascript' })).text).toBe('3');
    const ts = await sbx.runCode('const n: number = 5; n + 1', { language: 'ts' });
    expect(ts.error).toBeUndefined();
    expect(ts.text).toBe('6');
    const tsCtx = await sbx.createCodeContext({ language: 'ts' });
    const typed = await sbx.runCode('function sq(v: number): number { return v * v }\nsq(7)', {
      context: tsCtx,
    });
    expect(typed.text).toBe('49');
    const bash = await sbx.runCode('echo hi; echo oops >&2', { language: 'bash' });
    expect(bash.logs).toEqual({ stdout: ['hi\n'], stderr: ['oops\n'] });
    const failed = await sbx.runCode('exit 3', { language: 'bash' });
    expect(failed.error?.value).toContain('3');
    await sbx.removeCodeContext(tsCtx);
  });

  it('sets env_vars for one execution only', async () => {
    const py = await sbx.runCode('import os\nos.environ.get("HEARTH_E2B_VAR")', {
      envs: { HEARTH_E2B_VAR: 'on' },
    });
    expect(py.text).toBe('on');
    expect((await sbx.runCode('os.environ.get("HEARTH_E2B_VAR") is None')).text).toBe('True');
    const js = await sbx.runCode('process.env.HEARTH_E2B_VAR', {
      language: 'js',
      envs: { HEARTH_E2B_VAR: 'js' },
    });
    expect(js.text).toBe('js');
    expect((await sbx.runCode('process.env.HEARTH_E2B_VAR === undefined', { language: 'js' })).text).toBe(
      'true',
    );
    const sh = await sbx.runCode('echo "$HEARTH_E2B_VAR"', {
      language: 'bash',
      envs: { HEARTH_E2B_VAR: 'sh' },
    });
    expect(sh.logs.stdout).toEqual(['sh\n']);
  });

  it('creates, lists, restarts and removes contexts; a fresh sandbox lists its defaults', async () => {
    const fresh = await Sandbox.create({
      metadata: { suite: 'e2b-interpreter' },
      envs: { SANDBOX_WIDE: 'all' },
    });
    try {
      const listed = await fresh.listCodeContexts();
      expect(listed.map((c) => c.language).slice(0, 2)).toEqual(['python', 'javascript']);
      // The sandbox's envVars reach every context, and a run's own env_vars override them for that run.
      expect((await fresh.runCode('import os\nos.environ["SANDBOX_WIDE"]')).text).toBe('all');
      expect((await fresh.runCode('process.env.SANDBOX_WIDE', { language: 'js' })).text).toBe('all');
      const over = await fresh.runCode('os.environ["SANDBOX_WIDE"]', { envs: { SANDBOX_WIDE: 'one' } });
      expect(over.text).toBe('one');
      expect((await fresh.runCode('os.environ["SANDBOX_WIDE"]')).text).toBe('all');
      // A default listed before any code ran is the one a run without a context uses.
      const python = listed[0];
      if (!python) throw new Error('no python default');
      await fresh.runCode('z = 3');
      expect((await fresh.runCode('z', { context: python })).text).toBe('3');
      expect((await fresh.runCode('os.getcwd()', { context: python })).text).toBe(python.cwd);

      const home = await fresh.createCodeContext({ language: 'python' });
      expect(home.cwd).toBe('/home/user');
      await fresh.removeCodeContext(home.id);
      const ctx = await fresh.createCodeContext({ language: 'python', cwd: '/tmp' });
      expect(ctx).toMatchObject({ language: 'python', cwd: '/tmp' });
      expect((await fresh.runCode('import os\ny = 5\nos.getcwd()', { context: ctx })).text).toBe('/tmp');
      expect((await fresh.listCodeContexts()).map((c) => c.id)).toContain(ctx.id);
      await fresh.restartCodeContext(ctx);
      const after = await fresh.runCode('y', { context: ctx });
      expect(after.error?.name).toBe('NameError');
      await fresh.removeCodeContext(ctx.id);
      expect((await fresh.listCodeContexts()).map((c) => c.id)).not.toContain(ctx.id);
      await expect(fresh.runCode('1', { context: ctx })).rejects.toThrow(/not found/i);
      // Restarting a default drops its state too.
      await fresh.restartCodeContext(python);
      expect((await fresh.runCode('z')).error?.name).toBe('NameError');
    } finally {
      await fresh.kill();
    }
  });

  it('interrupts a run whose client gives up, and the context keeps working', async () => {
    const ctx = await sbx.createCodeContext();
    await sbx.runCode('kept = 7', { context: ctx });
    await expect(
      sbx.runCode('import time\nwhile True:\n    time.sleep(0.1)', { context: ctx, timeoutMs: 1500 }),
    ).rejects.toThrow(/timeout/i);
    const next = await sbx.runCode('kept * 6', { context: ctx });
    expect(next.error).toBeUndefined();
    expect(next.text).toBe('42');
    await sbx.removeCodeContext(ctx);
  });

  it('answers for an interpreter that died, then runs in a fresh one', async () => {
    const ctx = await sbx.createCodeContext();
    const during = await sbx.runCode('import os\nos._exit(3)', { context: ctx });
    expect(during.error?.name).toBe('ContextLost');
    expect((await sbx.runCode('1 + 1', { context: ctx })).text).toBe('2');

    // Dead between two runs: the next run says so, restarts it, and the one after runs.
    await sbx.runCode('import os, threading\nthreading.Timer(0.2, lambda: os._exit(3)).start()', {
      context: ctx,
    });
    await waitForState(ctx.id, 'dead');
    const told = await sbx.runCode('1', { context: ctx });
    expect(told.error?.name).toBe('ContextRestarting');
    expect(told.results).toEqual([]);
    expect((await sbx.runCode('3 * 3', { context: ctx })).text).toBe('9');
    await sbx.removeCodeContext(ctx);
  });

  it('restarts an interpreter that ignores the interrupt once its client has gone', async () => {
    const ctx = await sbx.createCodeContext();
    await sbx.runCode('lost = 1', { context: ctx });
    const stubborn = 'import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass';
    await expect(sbx.runCode(stubborn, { context: ctx, timeoutMs: 1000 })).rejects.toThrow(/timeout/i);
    const next = await sbx.runCode('lost', { context: ctx });
    expect(next.error?.name).toBe('NameError');
    expect((await sbx.runCode('2 + 2', { context: ctx })).text).toBe('4');
    await sbx.removeCodeContext(ctx);
  });

  it('answers malformed requests and unknown contexts in E2B shape', async () => {
    const created = await fetch(`${e2b.server.url}/v2/sandboxes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'e2b_local' },
      body: JSON.stringify({ templateID: 'code-interpreter-v1' }),
    });
    expect(created.status).toBe(201);
    const info = (await created.json()) as { sandboxID: string; trafficAccessToken?: string };
    const headers = {
      'content-type': 'application/json',
      'e2b-sandbox-id': info.sandboxID,
      'e2b-sandbox-port': '49999',
      ...(info.trafficAccessToken ? { 'e2b-traffic-access-token': info.trafficAccessToken } : {}),
    };
    try {
      const execute = (body: string) => fetch(`${e2b.server.url}/execute`, { method: 'POST', headers, body });
      for (const body of ['{"code": 5}', '{}', 'not json', '{"code": "1", "language": "cobol"}']) {
        const res = await execute(body);
        expect(res.status).toBe(400);
        const err = (await res.json()) as { code: number; message: string };
        expect(err.code).toBe(400);
        expect(err.message).toEqual(expect.any(String));
      }
      const unknown = await execute('{"code": "1", "context_id": "ctx-0123"}');
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({ code: 404 });
      for (const [method, path] of [
        ['POST', '/contexts/ctx-0123/restart'],
        ['DELETE', '/contexts/ctx-0123'],
      ] as const) {
        const res = await fetch(`${e2b.server.url}${path}`, { method, headers });
        expect(res.status).toBe(404);
        expect(await res.json()).toMatchObject({ code: 404 });
      }
      // The NDJSON body: one JSON object per line, no blank line, the count first and the end last.
      const ok = await execute('{"code": "print(1)\\n2"}');
      expect(ok.status).toBe(200);
      const lines = (await ok.text()).split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.map((l) => JSON.parse(l) as { type: string })).toEqual([
        { type: 'number_of_executions', execution_count: 1 },
        { type: 'stdout', text: '1\n' },
        { type: 'result', is_main_result: true, text: '2' },
        { type: 'end_of_execution' },
      ]);
      const bare = await fetch(`${e2b.server.url}/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"code": "1"}',
      });
      expect(bare.status).toBe(502);
      expect(await bare.json()).toMatchObject({ code: 502 });
    } finally {
      await fetch(`${e2b.server.url}/sandboxes/${info.sandboxID}`, {
        method: 'DELETE',
        headers: { 'x-api-key': 'e2b_local' },
      });
    }
  });
});
