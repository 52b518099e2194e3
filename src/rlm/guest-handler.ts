/**
 * The host's side of the sandbox's llm_query / llm_query_batched / rlm_query: every call is
 * checked against the run's budgets first, spends into them, and stops with the run.
 */

import type { GuestCallHandler } from '../agent/guest-calls.js';
import type { BudgetTracker } from './budgets.js';
import { BudgetExhausted } from './budgets.js';
import type { LlmPort } from './llm-client.js';

/** Prompts of one batch asked at once; the rest wait their turn. @default 8 */
const BATCH_CONCURRENCY = 8;

export interface SubCalls {
  llm: LlmPort;
  subModel: string;
  tracker: BudgetTracker;
  /** Counts the step's sub-calls. */
  onCall: () => void;
}

/** One sub-model call within the budgets. */
export async function askSubModel(
  o: SubCalls,
  prompt: string,
  model?: string,
  signal?: AbortSignal,
): Promise<string> {
  o.tracker.check();
  o.onCall();
  const r = await o.llm.complete({
    model: model ?? o.subModel,
    messages: [{ role: 'user', content: prompt }],
    signal: signal ? AbortSignal.any([signal, o.tracker.signal]) : o.tracker.signal,
  });
  o.tracker.spend(r.tokensIn, r.tokensOut);
  return r.text;
}

/** Many prompts, at most BATCH_CONCURRENCY at once, answers in the prompts' order. */
export async function askSubModelBatched(
  o: SubCalls,
  prompts: string[],
  model?: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const answers: string[] = new Array(prompts.length).fill('');
  let next = 0;
  const worker = async () => {
    while (next < prompts.length) {
      const i = next++;
      answers[i] = await askSubModel(o, prompts[i] as string, model, signal);
    }
  };
  await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, prompts.length) }, worker));
  return answers;
}

export interface GuestHandlerOptions extends SubCalls {
  depth: number;
  /** Runs a sub-RLM one level deeper and gives its answer. */
  subRun: (o: { query: string; context: string; signal: AbortSignal }) => Promise<string>;
}

export function guestCallHandler(o: GuestHandlerOptions): GuestCallHandler {
  return async (call, signal) => {
    switch (call.method) {
      case 'llm_query':
        return askSubModel(o, call.prompt, call.model, signal);
      case 'llm_query_batched':
        return askSubModelBatched(o, call.prompts, call.model, signal);
      case 'rlm_query': {
        o.tracker.check();
        if (o.depth + 1 > o.tracker.budgets.maxDepth) {
          // The tree stops: a model that recurses past the limit would only recurse again.
          o.tracker.stop('depth');
          throw new BudgetExhausted('depth');
        }
        o.onCall();
        return o.subRun({ query: call.prompt, context: call.context ?? '', signal });
      }
    }
  };
}
