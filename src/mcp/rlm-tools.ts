/**
 * The RLM tools with the seed's names, for an MCP client that is itself the root model (rlm_context,
 * rlm_code, rlm_bash, rlm_snapshot on a session it keeps) or that hands a whole query to hearth's
 * loop (rlm_query, then rlm_status to replay the run step by step).
 */
import { type Static, type TObject, Type } from '@sinclair/typebox';
import { RlmBudgets, RlmRunRequest } from '../api/rlm.js';
import type { SessionsApi } from '../api/sessions-api.js';
import { HearthError } from '../errors/hearth-error.js';
import { loadContext, readContext } from '../rlm/context.js';
import type { RlmService } from '../rlm/service.js';
import type { ToolResult } from './tools.js';

const SessionId = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'The session id from rlm_context.',
});
const strict = { additionalProperties: false };
const TimeoutMs = Type.Optional(
  Type.Integer({ minimum: 1, maximum: 600_000, description: 'Default 60000.' }),
);

export const RLM_TOOL_SCHEMAS = {
  rlm_context: Type.Object(
    {
      context: Type.Unknown({ description: 'Text, or any JSON value: becomes the REPL variable `context`.' }),
      sessionId: Type.Optional({
        ...SessionId,
        description: 'Load into this session; without it a new one is made.',
      }),
      backend: Type.Optional(Type.String({ maxLength: 32 })),
    },
    strict,
  ),
  rlm_code: Type.Object(
    { sessionId: SessionId, code: Type.String({ maxLength: 1_048_576 }), timeoutMs: TimeoutMs },
    strict,
  ),
  rlm_bash: Type.Object(
    { sessionId: SessionId, cmd: Type.String({ minLength: 1, maxLength: 262_144 }), timeoutMs: TimeoutMs },
    strict,
  ),
  rlm_snapshot: Type.Object(
    {
      sessionId: SessionId,
      action: Type.Union([Type.Literal('save'), Type.Literal('rollback'), Type.Literal('list')]),
      name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' })),
    },
    strict,
  ),
  rlm_query: Type.Object(
    {
      query: RlmRunRequest.properties.query,
      context: Type.Optional(Type.Unknown()),
      rootModel: RlmRunRequest.properties.rootModel,
      subModel: RlmRunRequest.properties.subModel,
      budgets: Type.Optional(RlmBudgets),
      backend: RlmRunRequest.properties.backend,
    },
    strict,
  ),
  rlm_status: Type.Object({ runId: Type.String({ minLength: 1, maxLength: 128 }) }, strict),
} satisfies Record<string, TObject>;

export type RlmToolName = keyof typeof RLM_TOOL_SCHEMAS;

export const RLM_TOOL_DESCRIPTIONS: Record<RlmToolName, string> = {
  rlm_context:
    'Load a large input into a sandbox session as the Python variable `context` (and a file), without it passing through your prompt. Returns the session id, and `subModel`: whether code in the session can call llm_query(prompt), llm_query_batched(prompts) and rlm_query(prompt, context) (true when the server has a model configured).',
  rlm_code:
    'Run Python in the session holding `context`; variables persist between calls, and llm_query / llm_query_batched ask the sub model. Returns what it printed.',
  rlm_bash: 'Run a shell command in the session. Returns the exit code and output.',
  rlm_snapshot:
    'save: snapshot the session under a name; rollback: return to a named snapshot (files, and on VMs the REPL variables); list: the names.',
  rlm_query:
    "Answer a query over a large context with hearth's recursive-language-model loop (a root model writing code over `context`, sub-model calls, budgets). Returns the answer, stop reason and run id.",
  rlm_status: 'A run of rlm_query with its steps in order (model text, code, output, tokens), to replay it.',
};

type Args<T extends RlmToolName> = Static<(typeof RLM_TOOL_SCHEMAS)[T]>;
const json = (value: unknown): ToolResult => ({
  content: [{ type: 'text', text: JSON.stringify(value, null, 2) }],
});

type Handlers = {
  [T in RlmToolName]: (api: SessionsApi, rlm: RlmService, a: Args<T>) => Promise<ToolResult>;
};

async function snapshotByName(api: SessionsApi, sessionId: string, name: string): Promise<string> {
  const s = (await api.listSnapshots(sessionId)).filter((x) => x.name === name).at(-1);
  if (!s) throw new HearthError('SNAPSHOT_NOT_FOUND', `no snapshot named ${name} in session ${sessionId}`);
  return s.id;
}

export const RLM_TOOL_HANDLERS: Handlers = {
  rlm_context: async (api, rlm, a) => {
    const source =
      typeof a.context === 'string'
        ? { kind: 'text' as const, text: a.context }
        : { kind: 'json' as const, value: a.context };
    const read = await readContext(source);
    const sessionId =
      a.sessionId ??
      (await api.createSession({ language: 'python', ...(a.backend ? { backend: a.backend } : {}) })).id;
    const loaded = await loadContext({ sessions: api, sessionId, ...read, timeoutMs: 120_000 });
    // The client is the root model; the code it runs may still ask the sub model.
    const subModel = rlm.attachSubModel(sessionId);
    return json({ sessionId, ...loaded, subModel });
  },
  rlm_code: async (api, _rlm, a) => {
    const r = await api.runCode(a.sessionId, {
      code: a.code,
      language: 'python',
      timeoutMs: a.timeoutMs ?? 60_000,
    });
    const answer = json({
      stdout: r.stdout,
      stderr: r.stderr,
      result: r.result?.text ?? null,
      error: r.error,
      timedOut: r.timedOut,
    });
    if (r.error || r.timedOut) answer.isError = true;
    return answer;
  },
  rlm_bash: async (api, _rlm, a) => {
    const r = await api.runCommand(a.sessionId, { cmd: a.cmd, timeoutMs: a.timeoutMs ?? 60_000 });
    return json({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, timedOut: r.timedOut });
  },
  rlm_snapshot: async (api, _rlm, a) => {
    if (a.action === 'list')
      return json({ names: (await api.listSnapshots(a.sessionId)).map((s) => s.name) });
    if (!a.name) throw new HearthError('VALIDATION_FAILED', `${a.action} needs a name`);
    if (a.action === 'save') return json(await api.createSnapshot(a.sessionId, { name: a.name }));
    await api.restoreSnapshot(a.sessionId, await snapshotByName(api, a.sessionId, a.name));
    return json({ rolledBack: a.name });
  },
  rlm_query: async (_api, rlm, a) => {
    const run = await rlm.run(a);
    const { id, stopReason, answer, error, iterations, tokensIn, tokensOut } = run;
    const r = json({ runId: id, stopReason, answer, error, iterations, tokensIn, tokensOut });
    if (stopReason !== 'final') r.isError = true;
    return r;
  },
  rlm_status: async (_api, rlm, a) => json(await rlm.getWithChildren(a.runId)),
};
