/**
 * The RLM API's contract: a recursive-language-model run over a session (POST /v1/rlm/runs), its
 * steps and its record (GET /v1/rlm/runs/:id). TypeBox only, so the SDK and the CLI can load it.
 */
import { type Static, Type } from '@sinclair/typebox';
import { Strictness } from './learning.js';

const PositiveInt = Type.Integer({ minimum: 1 });

export const RlmBudgets = Type.Object(
  {
    /** Tokens in and out of every model call of the run and its sub-runs. @default 100000 */
    maxTokens: Type.Optional(PositiveInt),
    /** Wall time of the whole run, sub-runs included. @default 300 */
    maxSeconds: Type.Optional(PositiveInt),
    /** Nesting of rlm_query sub-runs (the root is depth 0). @default 10 */
    maxDepth: Type.Optional(Type.Integer({ minimum: 0, maximum: 64 })),
    /** Model answers of one run. @default 30 */
    maxIterations: Type.Optional(PositiveInt),
    /** One code block or command. @default a tenth of maxSeconds */
    stepTimeoutMs: Type.Optional(PositiveInt),
    /** Characters of a step's output shown to the model; the rest is cut, and that is said. @default 8192 */
    maxOutputChars: Type.Optional(Type.Integer({ minimum: 256, maximum: 1_048_576 })),
    /** Refusals by the validator the model may answer before the run ends. @default 3 */
    maxValidationRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
  },
  { additionalProperties: false },
);
export type RlmBudgets = Static<typeof RlmBudgets>;

export const RlmRunRequest = Type.Object(
  {
    query: Type.String({ minLength: 1, maxLength: 65_536 }),
    /** The input: text, or any JSON value. It is loaded into the REPL as `context`, never into the prompt. */
    context: Type.Optional(Type.Unknown()),
    /** A file on the host to load as the context (the server accepts it only under HEARTH_RLM_CONTEXT_DIR). */
    contextFile: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    /** @default HEARTH_RLM_MODEL */
    rootModel: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    /** @default HEARTH_RLM_SUB_MODEL, else the root model */
    subModel: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    budgets: Type.Optional(RlmBudgets),
    /** @default the server's default backend */
    backend: Type.Optional(Type.String({ maxLength: 32 })),
    /** Check commands against the thesaurus before they run. @default HEARTH_VALIDATE (unset: no check) */
    validate: Type.Optional(Strictness),
  },
  { additionalProperties: false, $id: 'RlmRunRequest' },
);
export type RlmRunRequest = Static<typeof RlmRunRequest>;

export const RlmStopReason = Type.Union([
  Type.Literal('final'),
  Type.Literal('tokens'),
  Type.Literal('time'),
  Type.Literal('iterations'),
  Type.Literal('depth'),
  Type.Literal('validation'),
  Type.Literal('error'),
  Type.Literal('cancelled'),
]);
export type RlmStopReason = Static<typeof RlmStopReason>;

export const RlmStep = Type.Object(
  {
    runId: Type.String(),
    /** 1, 2, … in the order the model answered. */
    index: Type.Integer(),
    modelText: Type.String(),
    /** The code blocks and commands run, in order. */
    code: Type.String(),
    /** What went back to the model. */
    output: Type.String(),
    durationMs: Type.Number(),
    tokensIn: Type.Integer(),
    tokensOut: Type.Integer(),
    /** llm_query / rlm_query calls made from the sandbox during the step, and QUERY_LLM commands. */
    subCalls: Type.Integer(),
  },
  { $id: 'RlmStep' },
);
export type RlmStep = Static<typeof RlmStep>;

export const RlmRun = Type.Object(
  {
    id: Type.String(),
    /** The run whose rlm_query started this one. */
    parentId: Type.Union([Type.String(), Type.Null()]),
    depth: Type.Integer(),
    query: Type.String(),
    rootModel: Type.String(),
    subModel: Type.String(),
    backend: Type.String(),
    state: Type.Union([Type.Literal('running'), Type.Literal('finished')]),
    stopReason: Type.Union([RlmStopReason, Type.Null()]),
    /** FINAL's answer, or the best partial one (the last output) when a budget ended the run. */
    answer: Type.Union([Type.String(), Type.Null()]),
    error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
    tokensIn: Type.Integer(),
    tokensOut: Type.Integer(),
    iterations: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    steps: Type.Array(RlmStep),
  },
  { $id: 'RlmRun' },
);
export type RlmRun = Static<typeof RlmRun>;
