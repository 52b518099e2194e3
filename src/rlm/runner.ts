/**
 * The recursive-language-model loop over a session: the context goes into the session's REPL,
 * the root model answers with code and commands that run there, what they print goes back to it,
 * until FINAL or a budget ends the run. rlm_query from the sandbox runs a sub-run one level deeper
 * in a session of its own: its REPL, its `context` and its ROLLBACKs cannot disturb the parent's
 * interpreter, which is waiting inside the call; and each session's guest calls are answered at
 * the depth of the run that owns it. Every path deletes the session, and with it its snapshots.
 */
import { randomUUID } from 'node:crypto';
import type { Strictness } from '../api/learning.js';
import type { RlmRun, RlmStep, RlmStopReason } from '../api/rlm.js';
import type { RlmStore } from '../store/rlm-store.js';
import { BudgetExhausted, type Budgets, BudgetTracker } from './budgets.js';
import { parseCommands } from './commands.js';
import { type ContextSource, loadContext, readContext } from './context.js';
import { guestCallHandler } from './guest-handler.js';
import type { ChatMessage, LlmPort } from './llm-client.js';
import { firstMessage, systemPrompt } from './prompt.js';
import type { RlmSessions } from './sessions-port.js';
import { type InputValidator, type RunState, runStep } from './step-runner.js';

export interface RlmRunInput {
  query: string;
  source: ContextSource;
  rootModel: string;
  subModel: string;
  budgets: Budgets;
  /** @default the sessions' default backend */
  backend?: string;
  strictness?: Strictness;
}

export interface RlmEvents {
  /** A run (the root or a sub-run) started; its id is final. */
  onRun?: (run: { id: string; parentId: string | null; depth: number }) => void;
  onStep?: (step: RlmStep, depth: number) => void;
}

export interface RlmRunnerOptions {
  sessions: RlmSessions;
  llm: LlmPort;
  store: RlmStore;
  validator?: InputValidator;
  /** Applied when a run asks for none. @default no check */
  defaultStrictness?: Strictness;
  onWarning?: (obj: object, msg: string) => void;
}

interface Frame {
  input: RlmRunInput;
  depth: number;
  parentId: string | null;
  tracker: BudgetTracker;
  events: RlmEvents;
}

export class RlmRunner {
  readonly #o: RlmRunnerOptions;

  constructor(o: RlmRunnerOptions) {
    this.#o = o;
  }

  /** Runs to the end; a budget's end, a dead model server or a cancel are in the run, not thrown. */
  async run(input: RlmRunInput, o: { signal?: AbortSignal; events?: RlmEvents } = {}): Promise<RlmRun> {
    const context = await readContext(input.source);
    const tracker = new BudgetTracker(input.budgets, o.signal);
    try {
      return await this.#run({ input, depth: 0, parentId: null, tracker, events: o.events ?? {} }, context);
    } finally {
      tracker.close();
    }
  }

  async #run(f: Frame, context: { bytes: Buffer; json: boolean }): Promise<RlmRun> {
    const { input, tracker } = f;
    const id = randomUUID();
    const store = this.#o.store;
    await store.createRun({
      id,
      parentId: f.parentId,
      depth: f.depth,
      query: input.query,
      rootModel: input.rootModel,
      subModel: input.subModel,
      backend: input.backend ?? 'default',
      budgets: input.budgets,
      createdAtMs: Date.now(),
    });
    f.events.onRun?.({ id, parentId: f.parentId, depth: f.depth });
    let stop: RlmStopReason | undefined;
    let answer: string | null = null;
    let error: RlmRun['error'] = null;
    let iterations = 0;
    let state: RunState | undefined;
    /** Sub-runs in flight: a run is recorded as ended only after they are, so its tree reads whole. */
    const children = new Set<Promise<unknown>>();
    try {
      const result = await this.#loop(
        f,
        id,
        children,
        context,
        (s) => {
          state = s;
        },
        () => iterations++,
      );
      stop = result.stop;
      answer = result.answer;
    } catch (err) {
      const reason = err instanceof BudgetExhausted ? err.reason : tracker.stopped;
      if (reason) stop = reason;
      else {
        stop = 'error';
        const e = err as { code?: unknown; message?: unknown };
        error = {
          code: typeof e?.code === 'string' ? e.code : 'INTERNAL',
          message: String(e?.message ?? err).slice(0, 2000),
        };
      }
    } finally {
      await Promise.allSettled(children);
      await this.#free(state?.sessionId);
    }
    await store.finishRun({
      id,
      stopReason: stop ?? 'error',
      answer: answer ?? state?.lastOutput ?? null,
      error,
      tokensIn: tracker.tokensIn,
      tokensOut: tracker.tokensOut,
      iterations,
      finishedAtMs: Date.now(),
      ...(state ? { backend: state.backend } : {}),
    });
    return (await store.getRun(id)) as RlmRun;
  }

  async #loop(
    f: Frame,
    runId: string,
    children: Set<Promise<unknown>>,
    context: { bytes: Buffer; json: boolean },
    onState: (s: RunState) => void,
    onIteration: () => void,
  ): Promise<{ stop: RlmStopReason; answer: string | null }> {
    const { input, tracker } = f;
    const { sessions, llm } = this.#o;
    const b = input.budgets;
    const session = await sessions.createSession({
      language: 'python',
      ...(input.backend ? { backend: input.backend } : {}),
      ttlMs: b.maxSeconds * 1000 + 60_000,
      metadata: { 'rlm-run': runId },
    });
    let subCalls = 0;
    const sub = { llm, subModel: input.subModel, tracker, onCall: () => void subCalls++ };
    const load = () =>
      loadContext({ sessions, sessionId: session.id, ...context, timeoutMs: b.stepTimeoutMs });
    const state: RunState = {
      sessionId: session.id,
      backend: session.backend,
      snapshots: new Map(),
      refusals: 0,
      lastOutput: null,
      reloadContext: async () => {
        const r = await sessions.runCode(session.id, { code: "'context' in globals()", language: 'python' });
        if (r.result?.text !== 'True') await load();
      },
    };
    onState(state);
    const bridge = typeof sessions.setGuestCallHandler === 'function';
    sessions.setGuestCallHandler?.(
      session.id,
      guestCallHandler({
        ...sub,
        depth: f.depth,
        subRun: async ({ query, context: text }) => {
          const running = this.#run(
            { ...f, input: { ...input, query }, depth: f.depth + 1, parentId: runId },
            { bytes: Buffer.from(text), json: false },
          );
          children.add(running);
          const child = await running.finally(() => children.delete(running));
          if (child.stopReason !== 'final' && tracker.stopped) throw new BudgetExhausted(tracker.stopped);
          return child.answer ?? '';
        },
      }),
    );
    const loaded = await load();
    const messages: ChatMessage[] = [
      { role: 'system', content: systemPrompt({ context: loaded, budgets: b, depth: f.depth, bridge }) },
      { role: 'user', content: firstMessage(input.query) },
    ];
    const strictness = input.strictness ?? this.#o.defaultStrictness;
    const env = {
      sessions,
      tracker,
      sub,
      ...(this.#o.validator ? { validator: this.#o.validator } : {}),
      ...(strictness ? { strictness } : {}),
    };
    for (let index = 1; ; index++) {
      if (index > b.maxIterations) return { stop: 'iterations', answer: null };
      tracker.check();
      onIteration();
      const started = performance.now();
      subCalls = 0;
      const reply = await llm.complete({ model: input.rootModel, messages, signal: tracker.signal });
      tracker.spend(reply.tokensIn, reply.tokensOut);
      const outcome = await runStep(env, state, parseCommands(reply.text));
      const step: RlmStep = {
        runId,
        index,
        modelText: reply.text,
        code: outcome.code,
        output: outcome.output,
        durationMs: performance.now() - started,
        tokensIn: reply.tokensIn,
        tokensOut: reply.tokensOut,
        subCalls,
      };
      await this.#o.store.addStep(step);
      f.events.onStep?.(step, f.depth);
      if (outcome.final !== undefined) return { stop: 'final', answer: outcome.final };
      if (tracker.stopped) return { stop: tracker.stopped, answer: null };
      if (state.refusals > b.maxValidationRetries) return { stop: 'validation', answer: null };
      messages.push({ role: 'assistant', content: reply.text }, { role: 'user', content: outcome.output });
    }
  }

  /** The session goes, and its snapshots with it; a failure here is logged, never thrown over the run's end. */
  async #free(sessionId: string | undefined): Promise<void> {
    if (!sessionId) return;
    this.#o.sessions.setGuestCallHandler?.(sessionId, undefined);
    await this.#o.sessions.deleteSession(sessionId).catch((err: unknown) => {
      this.#o.onWarning?.({ sessionId, err: String(err) }, 'rlm: the run session could not be deleted');
    });
  }
}
