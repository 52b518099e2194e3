import type { Budgets } from './budgets.js';
import type { LoadedContext } from './context.js';

/** What the root model is told: the REPL, the helpers, the commands and the budgets it works within. */
export function systemPrompt(o: {
  context: LoadedContext;
  budgets: Budgets;
  depth: number;
  bridge: boolean;
}): string {
  const b = o.budgets;
  const helpers = o.bridge
    ? [
        '- `llm_query(prompt) -> str` asks a sub model (it can read about 100k characters per call).',
        '- `llm_query_batched(prompts) -> list[str]` asks it many prompts at once, concurrently: prefer it for chunks.',
        `- \`rlm_query(prompt, context=None) -> str\` runs a whole recursive run like this one, one level deeper (depth ${o.depth + 1} of at most ${b.maxDepth}).`,
      ]
    : ['- Sub-model helpers are not available inside the REPL here; use QUERY_LLM commands instead.'];
  return [
    'You answer a query about a context too large to read at once. The context is NOT in this prompt:',
    `it is loaded in a persistent Python REPL as the variable \`context\` (${o.context.description}), and as the file ${o.context.path}.`,
    'Write Python in ```python (or ```repl) blocks; they run in that REPL, variables persist, and you see what they print',
    `(at most ${b.maxOutputChars} characters per step: print summaries, not the whole context).`,
    '',
    'Inside the REPL:',
    ...helpers,
    '',
    'Commands, each at the start of its own line outside code blocks:',
    '- RUN(cmd) runs a shell command in the sandbox.',
    '- SNAPSHOT(name) saves the session; ROLLBACK(name) returns to it (files, and on VMs the REPL variables too).',
    '- QUERY_LLM("prompt") and QUERY_LLM_BATCHED(["p1", "p2"]) ask the sub model from here.',
    '- FINAL(answer) ends with that answer; FINAL_VAR(name) ends with the value of a REPL variable.',
    '',
    `Budgets: ${b.maxIterations} answers, ${b.maxTokens} tokens in all, ${b.maxSeconds} s, ${Math.round(b.stepTimeoutMs / 1000)} s per step.`,
    'Look at the context first (type, length, a sample), then work through it in chunks, then answer with FINAL or FINAL_VAR.',
  ].join('\n');
}

/** The first user message: the query, and where the context is (never the context itself). */
export function firstMessage(query: string): string {
  return `Query: ${query}\n\nThe context is in the REPL variable \`context\`. Start by looking at it.`;
}
