import type { RlmBudgets, RlmStopReason } from '../api/rlm.js';

/** The seed's budgets, every field filled in. */
export interface Budgets {
  maxTokens: number;
  maxSeconds: number;
  maxDepth: number;
  maxIterations: number;
  stepTimeoutMs: number;
  maxOutputChars: number;
  maxValidationRetries: number;
}

/** The seed's defaults: 100k tokens, 300 s, depth 10, 30 iterations, a step a tenth of the time. */
export function budgetsFrom(b: RlmBudgets = {}): Budgets {
  const maxSeconds = b.maxSeconds ?? 300;
  return {
    maxTokens: b.maxTokens ?? 100_000,
    maxSeconds,
    maxDepth: b.maxDepth ?? 10,
    maxIterations: b.maxIterations ?? 30,
    stepTimeoutMs: b.stepTimeoutMs ?? maxSeconds * 100,
    maxOutputChars: b.maxOutputChars ?? 8192,
    maxValidationRetries: b.maxValidationRetries ?? 3,
  };
}

/** A budget ran out: the run ends with its reason (thrown from a sub-call into the loop). */
export class BudgetExhausted extends Error {
  constructor(readonly reason: RlmStopReason) {
    super(`the ${reason} budget is exhausted`);
  }
}

/**
 * What a run and all its sub-runs spend together: tokens and wall time are shared by the whole
 * tree, so a sub-run cannot spend past its root's budget. The first reason to stop sticks, and
 * `signal` aborts whatever is in flight (model calls, the code a sub-call waits in).
 */
export class BudgetTracker {
  readonly budgets: Budgets;
  readonly deadlineMs: number;
  tokensIn = 0;
  tokensOut = 0;
  #stop: RlmStopReason | undefined;
  readonly #abort = new AbortController();
  readonly #timer: NodeJS.Timeout;
  readonly #outer: AbortSignal | undefined;
  readonly #onOuterAbort = () => this.stop('cancelled');

  constructor(budgets: Budgets, outer?: AbortSignal) {
    this.budgets = budgets;
    this.deadlineMs = Date.now() + budgets.maxSeconds * 1000;
    this.#timer = setTimeout(() => this.stop('time'), budgets.maxSeconds * 1000);
    this.#timer.unref();
    this.#outer = outer;
    if (outer?.aborted) this.stop('cancelled');
    outer?.addEventListener('abort', this.#onOuterAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Why the run must end, once something said so. */
  get stopped(): RlmStopReason | undefined {
    return this.#stop;
  }

  get tokens(): number {
    return this.tokensIn + this.tokensOut;
  }

  remainingMs(): number {
    return Math.max(0, this.deadlineMs - Date.now());
  }

  /** The first reason wins; later ones (the abort's own fallout) do not replace it. */
  stop(reason: RlmStopReason): void {
    if (this.#stop) return;
    this.#stop = reason;
    clearTimeout(this.#timer);
    this.#abort.abort(new BudgetExhausted(reason));
  }

  /** Throws if a budget is spent; called before every model call, the root's and the sandbox's. */
  check(): void {
    if (!this.#stop && this.tokens >= this.budgets.maxTokens) this.stop('tokens');
    if (!this.#stop && this.remainingMs() === 0) this.stop('time');
    if (this.#stop) throw new BudgetExhausted(this.#stop);
  }

  spend(tokensIn: number, tokensOut: number): void {
    this.tokensIn += tokensIn;
    this.tokensOut += tokensOut;
  }

  /** Frees the deadline timer and lets go of the caller's signal. Idempotent. */
  close(): void {
    clearTimeout(this.#timer);
    this.#outer?.removeEventListener('abort', this.#onOuterAbort);
  }
}
