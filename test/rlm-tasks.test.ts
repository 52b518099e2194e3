/**
 * RLM tasks whose code reaches the sub model from inside the sandbox (llm_query_batched over the
 * agent's channel), on bwrap with the stand-in model server: a needle in 1,000,000 characters, an
 * OOLONG-style count of one category among 2,000 lines, and rlm_query stopped at the depth limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settledLeftovers } from './leak-check.js';
import { openRlm, py } from './rlm-fixture.js';
import { CATEGORY_WORDS } from './rlm-standin.js';

let rlm: Awaited<ReturnType<typeof openRlm>>;
beforeAll(async () => {
  rlm = await openRlm();
});
afterAll(async () => {
  await rlm?.close();
  expect(await settledLeftovers()).toEqual([]);
});

/** Deterministic filler: line i of a haystack. */
const filler = (i: number) =>
  `line ${i}: ${['lorem', 'ipsum', 'dolor', 'sit', 'amet'][i % 5]} ${'x'.repeat(i % 37)}`;

describe('rlm tasks through llm_query_batched (bwrap, stand-in model)', () => {
  it('finds a needle in 1,000,000 characters', async () => {
    const lines: string[] = [];
    let size = 0;
    for (let i = 0; size < 1_000_000; i++) {
      const l = i === 15_000 ? 'the secret code is 7341-ALPHA' : filler(i);
      lines.push(l);
      size += l.length + 1;
    }
    const context = lines.join('\n');
    expect(context.length).toBeGreaterThanOrEqual(1_000_000);
    const { run, standin } = await rlm.runner({
      root: [
        py('lines = context.split("\\n")\nprint(len(context), len(lines))'),
        py(
          [
            'chunks = ["\\n".join(lines[i:i + 2000]) for i in range(0, len(lines), 2000)]',
            'answers = llm_query_batched(["FIND secret code\\n" + c for c in chunks])',
            'found = [a for a in answers if a != "NONE"]',
            'answer = found[0].split(" is ")[-1] if found else "not found"',
            'print(len(chunks), found)',
          ].join('\n'),
        ),
        'FINAL_VAR(answer)',
      ],
    });
    // The sub model reads the whole haystack: about 250k tokens at 4 characters a token.
    const r = await run('What is the secret code?', { context, budgets: { maxTokens: 1_000_000 } });
    expect(r.stopReason).toBe('final');
    expect(r.answer).toBe('7341-ALPHA');
    const chunks = Math.ceil(lines.length / 2000);
    expect(r.steps[1]?.subCalls).toBe(chunks);
    expect(standin.subCalls).toBe(chunks);
    expect(r.steps[1]?.output).toContain(`${chunks} ['the secret code is 7341-ALPHA']`);
    expect(await rlm.openSessions()).toEqual([]);
  });

  it('counts the lines of a category among 2,000 (OOLONG-style)', async () => {
    const cats = Object.keys(CATEGORY_WORDS);
    const lines: string[] = [];
    let food = 0;
    for (let i = 0; i < 2000; i++) {
      const cat = cats[(i * 7 + (i >> 3)) % cats.length] as string;
      if (cat === 'food') food++;
      const words = CATEGORY_WORDS[cat] as string[];
      lines.push(`entry ${i}: someone mentioned ${words[i % words.length]} today`);
    }
    const { run } = await rlm.runner({
      root: [
        py(
          [
            'rows = context.strip().split("\\n")',
            'batches = ["CATEGORY\\n" + "\\n".join(rows[i:i + 100]) for i in range(0, len(rows), 100)]',
            'labels = [c for a in llm_query_batched(batches) for c in a.split("\\n")]',
            'food = sum(1 for c in labels if c == "food")',
            'print(len(rows), len(labels), food)',
          ].join('\n'),
        ),
        'FINAL_VAR(food)',
      ],
    });
    const r = await run('How many lines are about food?', { context: lines.join('\n') });
    expect(r.steps[0]?.output.trim()).toBe(`2000 2000 ${food}`);
    expect(r.stopReason).toBe('final');
    expect(r.answer).toBe(String(food));
    expect(r.steps[0]?.subCalls).toBe(20);
  });

  it('llm_query answers inside the REPL and counts as the step’s sub-call', async () => {
    const { run } = await rlm.runner({ root: [py('a = llm_query("hello")\nprint(a)'), 'FINAL_VAR(a)'] });
    const r = await run('echo');
    expect(r.answer).toBe('echo: hello');
    expect(r.steps[0]?.subCalls).toBe(1);
  });

  it('rlm_query recurses one level deeper per call and stops at the depth limit', async () => {
    const { run } = await rlm.runner({
      root: () => py('print(rlm_query("go deeper", "a smaller context"))'),
    });
    const r = await run('recurse', { budgets: { maxDepth: 2 } });
    expect(r.stopReason).toBe('depth');
    const child = await rlm.store.rlm.childRuns(r.id);
    expect(child).toHaveLength(1);
    const sub = await rlm.store.rlm.getRun(child[0] as string);
    expect(sub?.depth).toBe(1);
    expect(sub?.stopReason).toBe('depth');
    const [grandchild] = await rlm.store.rlm.childRuns(sub?.id as string);
    const deepest = await rlm.store.rlm.getRun(grandchild as string);
    expect(deepest?.depth).toBe(2);
    expect(deepest?.stopReason).toBe('depth');
    // Its one step's code was interrupted when the tree stopped.
    expect(deepest?.steps).toHaveLength(1);
    expect(await rlm.store.rlm.childRuns(deepest?.id as string)).toEqual([]);
    expect(await rlm.openSessions()).toEqual([]);
  });

  it('a sub-run answers its parent: rlm_query returns its FINAL', async () => {
    const { run } = await rlm.runner({
      root: (conv) => {
        const first = conv.find((m) => m.role === 'user')?.content ?? '';
        if (first.includes('Query: inner')) return 'FINAL(inner answer)';
        if (conv.length <= 2) return py('sub = rlm_query("inner", "ctx")\nprint(sub)');
        return 'FINAL_VAR(sub)';
      },
    });
    const r = await run('outer');
    expect(r.stopReason).toBe('final');
    expect(r.answer).toBe('inner answer');
    expect(r.steps[0]?.subCalls).toBe(1);
  });
});
