/**
 * Reads a model's answer for the loop's commands, in the order they appear: code blocks
 * (```python / ```repl) and, outside them, `RUN(cmd)`, `SNAPSHOT(name)`, `ROLLBACK(name)`,
 * `QUERY_LLM(prompt)`, `QUERY_LLM_BATCHED([...])`, `FINAL(answer)` and `FINAL_VAR(name)` at the
 * start of a line. The answer is the model's, so nothing here throws: what does not parse is
 * reported back to the model as a `bad` command.
 */
export type RlmCommand =
  | { kind: 'code'; code: string }
  | { kind: 'run'; cmd: string }
  | { kind: 'snapshot'; name: string }
  | { kind: 'rollback'; name: string }
  | { kind: 'query'; prompt: string }
  | { kind: 'query-batched'; prompts: string[] }
  | { kind: 'final'; answer: string }
  | { kind: 'final-var'; name: string }
  | { kind: 'bad'; text: string; why: string };

/** Commands read from one answer; a runaway answer stops being read past this. */
const MAX_COMMANDS = 64;
const FENCE = /```(python|repl|py)[^\n]*\n([\s\S]*?)```/g;
const CALL = /^[ \t]*(FINAL_VAR|FINAL|RUN|SNAPSHOT|ROLLBACK|QUERY_LLM_BATCHED|QUERY_LLM)\(/gm;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseCommands(text: string): RlmCommand[] {
  const found: Array<{ at: number; cmd: RlmCommand }> = [];
  const fenced: Array<[number, number]> = [];
  for (const m of text.matchAll(FENCE)) {
    fenced.push([m.index, m.index + m[0].length]);
    found.push({ at: m.index, cmd: { kind: 'code', code: m[2] ?? '' } });
  }
  const inFence = (i: number) => fenced.some(([a, b]) => i >= a && i < b);
  for (const m of text.matchAll(CALL)) {
    if (inFence(m.index)) continue;
    const open = m.index + m[0].length;
    const close = matchingParen(text, open);
    const name = m[1] as string;
    if (close < 0) {
      found.push({ at: m.index, cmd: { kind: 'bad', text: `${name}(`, why: 'no closing parenthesis' } });
      continue;
    }
    found.push({ at: m.index, cmd: toCommand(name, text.slice(open, close).trim()) });
  }
  found.sort((a, b) => a.at - b.at);
  return found.slice(0, MAX_COMMANDS).map((f) => f.cmd);
}

function toCommand(name: string, arg: string): RlmCommand {
  switch (name) {
    case 'FINAL':
      return { kind: 'final', answer: unquote(arg) };
    case 'FINAL_VAR': {
      const v = unquote(arg);
      return IDENT.test(v) ? { kind: 'final-var', name: v } : bad(name, arg, 'not a variable name');
    }
    case 'RUN': {
      const cmd = unquote(arg);
      return cmd ? { kind: 'run', cmd } : bad(name, arg, 'no command');
    }
    case 'SNAPSHOT':
    case 'ROLLBACK': {
      const n = unquote(arg);
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(n)) return bad(name, arg, 'a name is 1-64 of A-Z a-z 0-9 _ . -');
      return { kind: name === 'SNAPSHOT' ? 'snapshot' : 'rollback', name: n };
    }
    case 'QUERY_LLM':
      return { kind: 'query', prompt: unquote(arg) };
    default: {
      const prompts = stringList(arg);
      return prompts ? { kind: 'query-batched', prompts } : bad(name, arg, 'not a list of strings');
    }
  }
}

const bad = (name: string, arg: string, why: string): RlmCommand => ({
  kind: 'bad',
  text: `${name}(${arg.slice(0, 200)})`,
  why,
});

/** The index of the `)` closing the `(` before `from`, skipping quoted strings; -1 if none. */
function matchingParen(text: string, from: number): number {
  let depth = 1;
  let quote: string | undefined;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') {
      depth--;
      if (depth === 0) return c === ')' ? i : -1;
    }
  }
  return -1;
}

/** A single quoted string loses its quotes (JSON escapes read); anything else is taken as written. */
function unquote(arg: string): string {
  const q = arg[0];
  if ((q === '"' || q === "'") && arg.length >= 2 && arg.endsWith(q)) {
    const inner = arg.slice(1, -1);
    if (q === '"') {
      try {
        return JSON.parse(arg) as string;
      } catch {
        return inner;
      }
    }
    return inner.replace(/\\'/g, "'");
  }
  return arg;
}

/** `["a", 'b']` as a list of strings (Python's single quotes too); undefined if it is not one. */
function stringList(arg: string): string[] | undefined {
  if (!arg.startsWith('[') || !arg.endsWith(']')) return undefined;
  const out: string[] = [];
  const item = /\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*(,|$)/y;
  const body = arg.slice(1, -1).trim();
  let at = 0;
  while (at < body.length) {
    item.lastIndex = at;
    const m = item.exec(body);
    if (!m) return undefined;
    out.push(unquote(m[1] as string));
    at = item.lastIndex;
  }
  return out;
}
