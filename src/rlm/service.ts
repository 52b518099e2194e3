/**
 * RLM runs as the server, the CLI and the MCP tools ask for them: a request (models, budgets,
 * context) becomes a run of the loop; finished runs are read back from the store, steps in order.
 */
import type { Strictness } from '../api/learning.js';
import type { RlmRun, RlmRunRequest } from '../api/rlm.js';
import { HearthError } from '../errors/hearth-error.js';
import type { RlmStore } from '../store/rlm-store.js';
import { BudgetTracker, budgetsFrom } from './budgets.js';
import { modelsFor, type RlmConfig } from './config.js';
import { contextSource, readContext } from './context.js';
import { guestCallHandler } from './guest-handler.js';
import { LlmClient, type LlmPort } from './llm-client.js';
import { type RlmEvents, type RlmRunInput, RlmRunner } from './runner.js';
import type { RlmSessions } from './sessions-port.js';
import type { InputValidator } from './step-runner.js';

export interface RlmServiceOptions {
  sessions: RlmSessions;
  store: RlmStore;
  config: RlmConfig;
  /** @default an LlmClient on config.baseUrl and config.apiKey */
  llm?: LlmPort;
  validator?: InputValidator;
  defaultStrictness?: Strictness;
  /**
   * Whether `contextFile` may name any host file (the CLI, which reads as its user) or only one
   * under config.contextDir (a server, whose clients are not its user). @default false
   */
  anyContextFile?: boolean;
  onWarning?: (obj: object, msg: string) => void;
}

export class RlmService {
  readonly #o: RlmServiceOptions;
  readonly #runner: RlmRunner;
  readonly #llm: LlmPort;

  constructor(o: RlmServiceOptions) {
    this.#o = o;
    const llm =
      o.llm ??
      new LlmClient({
        ...(o.config.baseUrl ? { baseUrl: o.config.baseUrl } : {}),
        ...(o.config.apiKey ? { apiKey: o.config.apiKey } : {}),
      });
    this.#llm = llm;
    this.#runner = new RlmRunner({
      sessions: o.sessions,
      llm,
      store: o.store,
      ...(o.validator ? { validator: o.validator } : {}),
      ...(o.defaultStrictness ? { defaultStrictness: o.defaultStrictness } : {}),
      ...(o.onWarning ? { onWarning: o.onWarning } : {}),
    });
  }

  /** Runs a request to its end. Bad input (no model, a refused context file) throws before anything starts. */
  async run(req: RlmRunRequest, o: { signal?: AbortSignal; events?: RlmEvents } = {}): Promise<RlmRun> {
    return this.start(await this.prepare(req), o);
  }

  /** Runs what prepare() made of a request. */
  start(input: RlmRunInput, o: { signal?: AbortSignal; events?: RlmEvents } = {}): Promise<RlmRun> {
    return this.#runner.run(input, o);
  }

  /**
   * Checks a request and reads its context, so that what is wrong with it (no model, a refused or
   * missing file) is a 4xx answer before anything starts — before an event stream is opened too.
   */
  async prepare(req: RlmRunRequest): Promise<RlmRunInput> {
    if (req.context !== undefined && req.contextFile !== undefined) {
      throw new HearthError('VALIDATION_FAILED', 'give context or contextFile, not both');
    }
    if (req.contextFile !== undefined && !this.#o.anyContextFile && !this.#o.config.contextDir) {
      throw new HearthError(
        'RLM_CONTEXT_FILE_REFUSED',
        'this server loads no context files (HEARTH_RLM_CONTEXT_DIR is unset)',
      );
    }
    const models = modelsFor(this.#o.config, req);
    const allowedUnder = this.#o.anyContextFile ? undefined : this.#o.config.contextDir;
    const read = await readContext(contextSource(req, allowedUnder));
    return {
      query: req.query,
      source: { kind: 'read', ...read },
      ...models,
      budgets: budgetsFrom(req.budgets),
      ...(req.backend ? { backend: req.backend } : {}),
      ...(req.validate ? { strictness: req.validate } : {}),
    };
  }

  /**
   * Gives a session the sandbox's llm_query, llm_query_batched and rlm_query outside a run: for the
   * rlm_context tool's sessions, whose root model is the MCP client. Calls spend from budgets of
   * their own (the seed's defaults, an hour of time); rlm_query starts a run one level down. Nothing
   * is attached when no model is configured or the sessions are remote (their calls then say so).
   * The handler goes with the session.
   */
  attachSubModel(sessionId: string, req: { subModel?: string } = {}): boolean {
    const sessions = this.#o.sessions;
    if (typeof sessions.setGuestCallHandler !== 'function') return false;
    let models: { rootModel: string; subModel: string };
    try {
      models = modelsFor(this.#o.config, req);
    } catch {
      return false;
    }
    const tracker = new BudgetTracker(budgetsFrom({ maxSeconds: 3600 }));
    sessions.setGuestCallHandler(
      sessionId,
      guestCallHandler({
        llm: this.#llm,
        subModel: models.subModel,
        tracker,
        onCall: () => {},
        depth: 0,
        subRun: async ({ query, context, signal }) => {
          const run = await this.run({ query, context, ...models }, { signal });
          tracker.spend(run.tokensIn, run.tokensOut);
          return run.answer ?? '';
        },
      }),
    );
    return true;
  }

  async get(id: string): Promise<RlmRun> {
    const run = await this.#o.store.getRun(id);
    if (!run) throw new HearthError('RLM_RUN_NOT_FOUND', `no RLM run ${id}`);
    return run;
  }

  /** The run with the ids of the sub-runs its rlm_query calls started. */
  async getWithChildren(id: string): Promise<RlmRun & { children: string[] }> {
    const run = await this.get(id);
    return { ...run, children: await this.#o.store.childRuns(id) };
  }
}
