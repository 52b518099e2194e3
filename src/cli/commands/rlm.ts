import type { Command } from 'commander';
import type { Strictness } from '../../api/learning.js';
import type { RlmRun, RlmStep } from '../../api/rlm.js';
import { HearthError } from '../../errors/hearth-error.js';
import { STRICTNESS } from '../../learning/validator.js';
import { openEmbeddedRlm } from '../embedded-rlm.js';
import { action, positiveInt, printJson } from '../session-common.js';

interface RlmFlags {
  context?: string;
  rootModel?: string;
  subModel?: string;
  backend?: string;
  maxTokens?: string;
  maxSeconds?: string;
  maxIterations?: string;
  maxDepth?: string;
  validate?: string;
  json?: boolean;
}

const oneLine = (s: string, n: number) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n)}…` : t;
};

function printStep(step: RlmStep, depth: number): void {
  const indent = '  '.repeat(depth);
  process.stderr.write(
    `${indent}── step ${step.index}${depth ? ` (depth ${depth})` : ''}: ${Math.round(step.durationMs)} ms, ` +
      `${step.tokensIn}→${step.tokensOut} tokens, ${step.subCalls} sub-calls\n` +
      `${indent}   model: ${oneLine(step.modelText, 200)}\n` +
      `${indent}   out:   ${oneLine(step.output, 200)}\n`,
  );
}

function budgetsOf(f: RlmFlags) {
  const b = {
    maxTokens: positiveInt('--max-tokens', f.maxTokens),
    maxSeconds: positiveInt('--max-seconds', f.maxSeconds),
    maxIterations: positiveInt('--max-iterations', f.maxIterations),
    maxDepth: positiveInt('--max-depth', f.maxDepth),
  };
  return Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined));
}

/**
 * `hearth rlm "<query>" --context <file>`: a recursive-language-model run in this process (the
 * sessions service as `hearth mcp` has it, no server), steps shown on stderr as they run, the answer
 * on stdout. Runs are recorded in the state database. Exit 0 on FINAL, 1 when a budget or an
 * error ended the run first.
 */
export function registerRlm(program: Command): void {
  program
    .command('rlm')
    .description('Answer a query over a large context with a recursive language model in a sandbox session')
    .argument('<query>', 'what to answer')
    .option('--context <file>', 'the context: a file, loaded into the REPL as `context`')
    .option('--root-model <name>', 'the root model (default HEARTH_RLM_MODEL)')
    .option(
      '--sub-model <name>',
      'the model of llm_query (default HEARTH_RLM_SUB_MODEL, else the root model)',
    )
    .option('--backend <name>', 'the sandbox backend')
    .option('--max-tokens <n>', 'token budget (default 100000)')
    .option('--max-seconds <n>', 'wall-time budget (default 300)')
    .option('--max-iterations <n>', 'model answers (default 30)')
    .option('--max-depth <n>', 'rlm_query nesting (default 10)')
    .option('--validate <strictness>', `check commands first: ${STRICTNESS.join(', ')}`)
    .option('--json', 'print the run (steps and all) as JSON')
    .addHelpText(
      'after',
      '\nThe model server is OPENAI_BASE_URL (with OPENAI_API_KEY), as for the openai client.',
    )
    .action(
      action(async (query: string, f: RlmFlags) => {
        if (f.validate !== undefined && !(STRICTNESS as readonly string[]).includes(f.validate)) {
          throw new HearthError('VALIDATION_FAILED', `--validate takes one of ${STRICTNESS.join(', ')}`);
        }
        const warn = (obj: object, msg: string) =>
          process.stderr.write(`hearth rlm: ${msg} ${JSON.stringify(obj)}\n`);
        const { rlm, close } = await openEmbeddedRlm({ onWarning: warn, anyContextFile: true });
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const run: RlmRun = await rlm.run(
            {
              query,
              ...(f.context !== undefined ? { contextFile: f.context } : {}),
              ...(f.rootModel ? { rootModel: f.rootModel } : {}),
              ...(f.subModel ? { subModel: f.subModel } : {}),
              ...(f.backend ? { backend: f.backend } : {}),
              ...(f.validate ? { validate: f.validate as Strictness } : {}),
              budgets: budgetsOf(f),
            },
            {
              signal: stop.signal,
              events: {
                onRun: (r) => {
                  if (!f.json)
                    process.stderr.write(
                      `${'  '.repeat(r.depth)}run ${r.id}${r.depth ? ` (depth ${r.depth})` : ''}\n`,
                    );
                },
                onStep: (s, depth) => {
                  if (!f.json) printStep(s, depth);
                },
              },
            },
          );
          if (f.json) printJson(run);
          else {
            process.stderr.write(
              `stop: ${run.stopReason}; ${run.iterations} steps, ${run.tokensIn + run.tokensOut} tokens` +
                `${run.error ? `; error ${run.error.code}: ${run.error.message}` : ''}\n`,
            );
            if (run.answer !== null) process.stdout.write(`${run.answer}\n`);
          }
          return run.stopReason === 'final' ? 0 : 1;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await close();
        }
      }),
    );
}
