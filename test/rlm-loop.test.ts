/**
 * The RLM loop on bwrap against the stand-in model server: the context lands in the REPL (not the
 * prompt), FINAL_VAR returns a REPL variable, each budget ends a run with its stop reason and the
 * best partial answer, ROLLBACK restores files, a strict refusal reaches the model as feedback,
 * and a model server that dies mid-run ends the run with a clear error — nothing left behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settledLeftovers } from './leak-check.js';
import { openRlm, py } from './rlm-fixture.js';

let rlm: Awaited<ReturnType<typeof openRlm>>;
beforeAll(async () => {
  rlm = await openRlm();
});
afterAll(async () => {
  await rlm?.close();
  expect(await settledLeftovers()).toEqual([]);
});

describe('rlm loop (bwrap, stand-in model)', () => {
  it('loads the context into the REPL, not the prompt, and ends with FINAL_VAR', async () => {
    const seen: string[] = [];
    const { run } = await rlm.runner({
      root: (conv, call) => {
        seen.push(conv.map((m) => m.content).join('\n'));
        if (call === 0)
          return py(
            'words = context.split()\nresult = f"{len(words)} words, last {words[-1]}"\nprint(len(context))',
          );
        return 'Done.\nFINAL_VAR(result)';
      },
    });
    const context = `${'alpha beta '.repeat(5000)}omega`;
    const r = await run('How many words?', { context });
    expect(r.stopReason).toBe('final');
    expect(r.backend).toBe('bwrap');
    expect(r.answer).toBe('10001 words, last omega');
    expect(r.steps.map((s) => s.index)).toEqual([1, 2]);
    expect(r.steps[0]?.output.trim()).toBe(String(context.length));
    expect(r.steps[0]?.tokensIn).toBeGreaterThan(0);
    expect(seen[0]).not.toContain('alpha beta alpha');
    expect(seen[1]).toContain(String(context.length));
    expect(await rlm.store.rlm.getRun(r.id)).toEqual(r);
    expect(await rlm.openSessions()).toEqual([]);
  });

  it('JSON context is a Python value; FINAL takes the answer as written', async () => {
    const { run } = await rlm.runner({
      root: [py('print(sorted(context["xs"]))'), 'FINAL("the sum is 6")'],
    });
    const r = await run('sum?', { context: { xs: [3, 1, 2] } });
    expect(r.steps[0]?.output.trim()).toBe('[1, 2, 3]');
    expect(r.answer).toBe('the sum is 6');
  });

  it('iterations: the run stops after maxIterations answers, with the last output as its partial answer', async () => {
    const { run } = await rlm.runner({ root: (_c, call) => py(`print("step ${call}")`) });
    const r = await run('loop forever', { budgets: { maxIterations: 3 } });
    expect(r.stopReason).toBe('iterations');
    expect(r.iterations).toBe(3);
    expect(r.steps).toHaveLength(3);
    expect(r.answer?.trim()).toBe('step 2');
  });

  it('tokens: the run stops when the tokens are spent', async () => {
    const { run } = await rlm.runner({ root: () => py(`print("x" * 4000)`) });
    const r = await run('spend', { budgets: { maxTokens: 3000 } });
    expect(r.stopReason).toBe('tokens');
    expect(r.tokensIn + r.tokensOut).toBeGreaterThanOrEqual(3000);
    expect(r.steps.length).toBeLessThan(30);
  });

  it('time: code that runs past the wall time ends the run with time', async () => {
    const { run } = await rlm.runner({ root: () => py('import time\ntime.sleep(30)') });
    const r = await run('sleep', { budgets: { maxSeconds: 3, stepTimeoutMs: 60_000 } });
    expect(r.stopReason).toBe('time');
    expect(await rlm.openSessions()).toEqual([]);
  });

  it('output past maxOutputChars is cut, and the cut is said', async () => {
    const { run } = await rlm.runner({ root: [py('print("y" * 5000)'), 'FINAL(ok)'] });
    const r = await run('big', { budgets: { maxOutputChars: 1000 } });
    expect(r.steps[0]?.output).toContain('[output cut: 1000 of 5001 characters shown]');
  });

  it('ROLLBACK restores the files of a bwrap session', async () => {
    const { run } = await rlm.runner({
      root: [
        'RUN(echo before > /work/state.txt)\nSNAPSHOT(s1)',
        'RUN(echo after > /work/state.txt)',
        'ROLLBACK(s1)\nRUN(cat /work/state.txt)',
        py('print(len(context))'),
        'FINAL(done)',
      ],
    });
    const r = await run('files', { context: 'abc' });
    expect(r.steps[2]?.output).toContain('[rolled back to s1]');
    expect(r.steps[2]?.output).toContain('before');
    // `context` is loaded again where the restore lost the interpreter.
    expect(r.steps[3]?.output.trim()).toBe('3');
    expect(await rlm.openSessions()).toEqual([]);
    expect(rlm.snapshotFiles()).toEqual([]);
  });

  it('strict validation: a refused command reaches the model as feedback with the retry count, then ends the run', async () => {
    const seen: string[] = [];
    const { run } = await rlm.runner({
      root: (conv) => {
        seen.push(conv.at(-1)?.content ?? '');
        return 'RUN(frobnicate --all)';
      },
    });
    const r = await run('validate', { strictness: 'strict', budgets: { maxValidationRetries: 2 } });
    expect(r.stopReason).toBe('validation');
    expect(r.steps).toHaveLength(3);
    expect(seen[1]).toContain('refused by the validator, try 1 of 3');
    expect(seen[1]).toContain('frobnicate');
    expect(seen[2]).toContain('try 2 of 3');
  });

  it('a model server that dies mid-run ends the run with a clear error and nothing left', async () => {
    const { run, standin } = await rlm.runner({ root: () => py('print(1)') });
    standin.dieAfterRootCalls(2);
    const r = await run('die');
    expect(r.stopReason).toBe('error');
    expect(r.error?.code).toBe('RLM_MODEL_FAILED');
    expect(r.error?.message).toMatch(/could not be reached/);
    expect(r.steps).toHaveLength(2);
    expect(await rlm.openSessions()).toEqual([]);
    expect(await settledLeftovers()).toEqual([]);
  });

  it('a 429 is retried, and QUERY_LLM asks the sub model', async () => {
    const { run, standin } = await rlm.runner({ root: ['QUERY_LLM("hello there")', 'FINAL(ok)'] });
    standin.fail429Once();
    const r = await run('retry');
    expect(r.stopReason).toBe('final');
    expect(r.steps[0]?.output).toBe('echo: hello there');
    expect(r.steps[0]?.subCalls).toBe(1);
  });

  it('cancel: an aborted signal ends the run as cancelled', async () => {
    const stop = new AbortController();
    const { run } = await rlm.runner({
      root: (_c, call) => {
        if (call === 1) stop.abort();
        return py('import time\ntime.sleep(0.2)\nprint("tick")');
      },
    });
    const r = await run('cancel', { signal: stop.signal });
    expect(r.stopReason).toBe('cancelled');
    expect(await rlm.openSessions()).toEqual([]);
  });
});
