/** The reading of a model's answer into the loop's commands: order, fences, quoting, and what does not parse. */
import { describe, expect, it } from 'vitest';
import { parseCommands } from '../src/rlm/commands.js';
import { shellCommandsIn } from '../src/rlm/step-output.js';

describe('parseCommands', () => {
  it('reads code blocks and commands in the order they appear', () => {
    const text = [
      'First I look.',
      '```python',
      'print(len(context))',
      '```',
      'RUN(ls -la /work)',
      '```repl',
      'x = 1',
      '```',
      'SNAPSHOT(s1)',
      'FINAL_VAR(x)',
    ].join('\n');
    expect(parseCommands(text)).toEqual([
      { kind: 'code', code: 'print(len(context))\n' },
      { kind: 'run', cmd: 'ls -la /work' },
      { kind: 'code', code: 'x = 1\n' },
      { kind: 'snapshot', name: 's1' },
      { kind: 'final-var', name: 'x' },
    ]);
  });

  it('ignores command names inside code blocks and mid-line', () => {
    const text = '```python\nFINAL(not this)\n```\nI will call FINAL(later) at the end.';
    expect(parseCommands(text)).toEqual([{ kind: 'code', code: 'FINAL(not this)\n' }]);
  });

  it('balances parentheses and quotes, and unquotes a single string', () => {
    expect(parseCommands('FINAL(f(x) = "a)b")')).toEqual([{ kind: 'final', answer: 'f(x) = "a)b"' }]);
    expect(parseCommands('FINAL("line one\\nline two")')).toEqual([
      { kind: 'final', answer: 'line one\nline two' },
    ]);
    expect(parseCommands("QUERY_LLM('it''s')")[0]?.kind).toBe('query');
  });

  it('reads QUERY_LLM_BATCHED lists in JSON or Python quoting', () => {
    expect(parseCommands(`QUERY_LLM_BATCHED(["a, b", 'c'])`)).toEqual([
      { kind: 'query-batched', prompts: ['a, b', 'c'] },
    ]);
  });

  it('reports what does not parse instead of throwing', () => {
    expect(parseCommands('FINAL_VAR(1 + 2)')[0]).toMatchObject({ kind: 'bad', why: 'not a variable name' });
    expect(parseCommands('ROLLBACK(../../etc)')[0]).toMatchObject({ kind: 'bad' });
    expect(parseCommands('QUERY_LLM_BATCHED(prompts)')[0]).toMatchObject({
      kind: 'bad',
      why: 'not a list of strings',
    });
    expect(parseCommands('FINAL(never closed')[0]).toMatchObject({
      kind: 'bad',
      why: 'no closing parenthesis',
    });
    expect(parseCommands('just words')).toEqual([]);
  });

  it('stops reading a runaway answer', () => {
    expect(parseCommands('RUN(true)\n'.repeat(1000))).toHaveLength(64);
  });
});

describe('shellCommandsIn', () => {
  it('finds the shell commands a Python block starts with literals', () => {
    const code = [
      'import os, subprocess',
      'os.system("curl http://x")',
      "subprocess.run(['grep', '-c', 'a', 'f.txt'])",
      '!pip install pandas',
      'print("os.system is just text here")',
    ].join('\n');
    expect(shellCommandsIn(code)).toEqual(['curl http://x', 'grep -c a f.txt', 'pip install pandas']);
  });
});
