import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { REPL_LIMITS } from '../../../agent/repl-limits.js';
import { SANDBOX_USER } from '../../../agent/sandbox-user.js';
import type { CodeContext, CodeLanguage } from '../../../api/sessions.js';
import type { SessionService } from '../../../sessions/service.js';
import { e2bError } from './errors.js';
import {
  existingContextId,
  KeyedQueue,
  languageOf,
  listE2bContexts,
  resolveContext,
} from './interpreter-contexts.js';
import { NdjsonRun } from './interpreter-ndjson.js';

const ExecuteBody = Type.Object({
  code: Type.String({ maxLength: REPL_LIMITS.maxCodeChars }),
  context_id: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
  language: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
  env_vars: Type.Optional(
    Type.Union([
      Type.Record(
        Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 256 }),
        Type.String({ maxLength: 32_768, pattern: '^[^\\u0000]*$' }),
        { maxProperties: REPL_LIMITS.maxEnvVars },
      ),
      Type.Null(),
    ]),
  ),
});

const ContextBody = Type.Union([
  Type.Object({
    language: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
    cwd: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 4096 }), Type.Null()])),
  }),
  Type.Null(),
]);

const ContextParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** How long a run whose client went away may take to stop on its interrupt before its interpreter is restarted. */
const ABANDONED_GRACE_MS = 5000;

/** The sandbox a code-interpreter request is for; a request that names none reaches no sandbox. */
function sandboxOf(req: FastifyRequest): string {
  if (!req.e2b)
    throw e2bError(502, 'no sandbox named: E2b-Sandbox-Id and E2b-Sandbox-Port 49999 are required');
  return req.e2b.sandboxId;
}

/**
 * E2B's code interpreter (port 49999) on a session's interpreter contexts: `/execute` answers as
 * NDJSON, one line per event as it happens; `/contexts` creates, lists, restarts and removes them.
 */
export async function e2bInterpreterRoutes(
  scope: FastifyInstance,
  o: { sessions: SessionService },
): Promise<void> {
  const { sessions } = o;
  const queue = new KeyedQueue();
  const timeoutMs = Math.min(sessions.config.maxTimeoutMs, REPL_LIMITS.maxTimeoutMs);

  scope.post(
    '/execute',
    { bodyLimit: 2 * REPL_LIMITS.maxCodeChars, schema: { body: ExecuteBody } },
    async (req, reply) => {
      const sandboxId = sandboxOf(req);
      const body = req.body as typeof ExecuteBody.static;
      // A context fixes the language; without one the language picks its default context.
      const language: CodeLanguage | undefined = body.context_id ? undefined : languageOf(body.language);
      const key = body.context_id ?? (language as string);
      const env = body.env_vars ?? undefined;
      const out = new NdjsonRun(req, reply);
      return queue.run(`${sandboxId}\0${key}`, async () => {
        if (out.gone) return out.close();
        if (language === 'bash') {
          out.start();
          return out.finish(() =>
            sessions.runCode(
              sandboxId,
              { code: body.code, language, timeoutMs, ...(env ? { env } : {}) },
              out.handlers,
            ),
          );
        }
        const ctx = await resolveContext(sessions, sandboxId, key);
        out.start();
        if (ctx.state === 'dead') return restarting(out, ctx);
        out.send({ type: 'number_of_executions', execution_count: ctx.executionCount + 1 });
        const abandoned = () => sessions.restartContext(sandboxId, ctx.id);
        return out.finish(
          async () => {
            const result = await sessions.runCode(
              sandboxId,
              {
                code: body.code,
                context: ctx.id,
                language: ctx.language as CodeLanguage,
                timeoutMs,
                ...(env ? { env } : {}),
              },
              out.handlers,
            );
            // A run that cost the interpreter its life leaves a fresh one for the next run.
            if (result.contextLost && !out.gone)
              await sessions.restartContext(sandboxId, ctx.id).catch(() => {});
            return result;
          },
          { onAbandoned: abandoned, abandonedGraceMs: ABANDONED_GRACE_MS },
        );
      });

      async function restarting(run: NdjsonRun, ctx: CodeContext): Promise<void> {
        run.send({
          type: 'error',
          name: 'ContextRestarting',
          value: `the interpreter of context ${ctx.id} had exited and is restarting: its state is lost`,
          traceback: '',
        });
        await sessions.restartContext(sandboxId, ctx.id).catch(() => {});
        run.send({ type: 'end_of_execution' });
        run.close();
      }
    },
  );

  scope.post('/contexts', { schema: { body: ContextBody } }, async (req) => {
    const sandboxId = sandboxOf(req);
    const body = (req.body ?? {}) as { language?: string | null; cwd?: string | null };
    const language = languageOf(body.language);
    if (language === 'bash')
      throw e2bError(400, 'bash runs without a context: send language "bash" to /execute');
    const ctx = await sessions.createContext(sandboxId, { language, cwd: body.cwd || SANDBOX_USER.home });
    return { id: ctx.id, language: ctx.language, cwd: ctx.cwd };
  });

  scope.get('/contexts', async (req) => listE2bContexts(sessions, sandboxOf(req)));

  scope.post('/contexts/:id/restart', { schema: { params: ContextParams } }, async (req, reply) => {
    const sandboxId = sandboxOf(req);
    const { id } = req.params as { id: string };
    await queue.run(`${sandboxId}\0${id}`, async () => {
      const hearthId = await existingContextId(sessions, sandboxId, id);
      // A default context not started yet is as fresh as a restart would make it.
      if (hearthId) await sessions.restartContext(sandboxId, hearthId);
    });
    return reply.code(204).send();
  });

  scope.delete('/contexts/:id', { schema: { params: ContextParams } }, async (req, reply) => {
    const sandboxId = sandboxOf(req);
    const { id } = req.params as { id: string };
    const hearthId = await existingContextId(sessions, sandboxId, id);
    if (hearthId) await sessions.deleteContext(sandboxId, hearthId);
    return reply.code(204).send();
  });
}
