import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  CodeContext,
  CodeContextList,
  CodeRequest,
  CodeResult,
  CommandList,
  CommandRequest,
  CommandResult,
  ContextCreateRequest,
  Session,
  SessionCreateRequest,
  SessionExtendRequest,
  SessionList,
} from '../../api/sessions.js';
import type { SessionFilter, SessionsApi } from '../../api/sessions-api.js';
import { HearthError } from '../../errors/hearth-error.js';
import { ErrorSchema } from '../schemas.js';
import { streamRun, wantsEventStream } from '../session-stream.js';

export interface SessionRoutesOptions {
  api: SessionsApi;
}

const Id = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const IdAndCommand = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  cid: Type.String({ minLength: 1, maxLength: 64 }),
});
const errors = {
  400: ErrorSchema,
  404: ErrorSchema,
  409: ErrorSchema,
  410: ErrorSchema,
  429: ErrorSchema,
  503: ErrorSchema,
};
const STATES = new Set(['starting', 'running', 'paused', 'dead', 'ended']);

/** `?state=running,paused&metadata.owner=ana` → a filter; unknown keys are refused. */
function filterOf(query: Record<string, string | undefined>): SessionFilter {
  const filter: SessionFilter = {};
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (key === 'state') {
      const states = value.split(',').filter(Boolean);
      for (const s of states)
        if (!STATES.has(s)) throw new HearthError('VALIDATION_FAILED', `state "${s}" is not a session state`);
      filter.states = states as SessionFilter['states'];
    } else if (key.startsWith('metadata.') && key.length > 9) {
      filter.metadata = { ...filter.metadata, [key.slice(9)]: value };
    } else {
      throw new HearthError('VALIDATION_FAILED', `unknown query parameter "${key}"`, {
        hint: 'Filter with ?state=<state>[,<state>] and ?metadata.<key>=<value>.',
      });
    }
  }
  return filter;
}

/** Sessions: lifecycle, commands (JSON or SSE), interpreter code and contexts. */
export const sessionRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = async (app, { api }) => {
  app.post(
    '/v1/sessions',
    {
      schema: {
        summary: 'Create a session: a sandbox that lives until it is deleted or its TTL passes',
        body: SessionCreateRequest,
        response: { 201: Session, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await api.createSession(req.body)),
  );

  app.get(
    '/v1/sessions',
    {
      schema: {
        summary: 'List sessions; filter with ?state=running,paused and ?metadata.<key>=<value>',
        querystring: Type.Record(Type.String(), Type.String()),
        response: { 200: SessionList, 400: ErrorSchema },
      },
    },
    async (req) => ({ sessions: await api.listSessions(filterOf(req.query)) }),
  );

  app.get(
    '/v1/sessions/:id',
    { schema: { summary: 'A session', params: Id, response: { 200: Session, ...errors } } },
    async (req) => api.getSession(req.params.id),
  );

  app.post(
    '/v1/sessions/:id/extend',
    {
      schema: {
        summary: 'Set the session to expire ttlMs from now',
        params: Id,
        body: SessionExtendRequest,
        response: { 200: Session, ...errors },
      },
    },
    async (req) => api.extendSession(req.params.id, req.body.ttlMs),
  );

  app.delete(
    '/v1/sessions/:id',
    {
      schema: {
        summary: 'End a session: its sandbox and snapshots are freed',
        params: Id,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await api.deleteSession(req.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/sessions/:id/pause',
    {
      schema: {
        summary: 'Save the session (memory and files) and free its sandbox; any later call resumes it',
        params: Id,
        response: { 200: Session, ...errors },
      },
    },
    async (req) => api.pauseSession(req.params.id),
  );

  app.post(
    '/v1/sessions/:id/resume',
    { schema: { summary: 'Resume a paused session', params: Id, response: { 200: Session, ...errors } } },
    async (req) => api.resumeSession(req.params.id),
  );

  app.post(
    '/v1/sessions/:id/commands',
    {
      bodyLimit: 17 * 1024 * 1024,
      schema: {
        summary:
          'Run a command; `background: true` answers 202 at once. With Accept: text/event-stream: `stdout`, `stderr`, then `result`',
        params: Id,
        body: CommandRequest,
        response: { 200: CommandResult, 202: CommandResult, ...errors },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      if (wantsEventStream(req) && !req.body.background) {
        return streamRun(req, reply, (h) => api.runCommand(id, req.body, h));
      }
      const ctrl = new AbortController();
      const onClose = () => ctrl.abort();
      if (!req.body.background) req.raw.socket.once('close', onClose);
      try {
        const result = await api.runCommand(id, req.body, { signal: ctrl.signal });
        return reply.status(req.body.background ? 202 : 200).send(result);
      } finally {
        req.raw.socket.off('close', onClose);
      }
    },
  );

  app.get(
    '/v1/sessions/:id/commands',
    {
      schema: {
        summary: 'Background commands, running and recently finished',
        params: Id,
        response: { 200: CommandList, ...errors },
      },
    },
    async (req) => ({ commands: await api.listCommands(req.params.id) }),
  );

  app.get(
    '/v1/sessions/:id/commands/:cid',
    {
      schema: {
        summary: 'A background command with its output so far',
        params: IdAndCommand,
        response: { 200: CommandResult, ...errors },
      },
    },
    async (req) => api.getCommand(req.params.id, req.params.cid),
  );

  app.post(
    '/v1/sessions/:id/commands/:cid/kill',
    {
      schema: {
        summary: 'Signal a background command (SIGKILL by default, which ends its whole process tree)',
        params: IdAndCommand,
        body: Type.Optional(
          Type.Object(
            { signal: Type.Optional(Type.String({ maxLength: 16 })) },
            { additionalProperties: false },
          ),
        ),
        response: { 200: CommandResult, ...errors },
      },
    },
    async (req) => api.killCommand(req.params.id, req.params.cid, req.body?.signal),
  );

  app.post(
    '/v1/sessions/:id/code',
    {
      bodyLimit: 2 * 1024 * 1024,
      schema: {
        summary:
          'Run code in a persistent interpreter context. With Accept: text/event-stream: `stdout`, `stderr`, then `result`',
        params: Id,
        body: CodeRequest,
        response: { 200: CodeResult, ...errors },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      if (wantsEventStream(req)) return streamRun(req, reply, (h) => api.runCode(id, req.body, h));
      return api.runCode(id, req.body);
    },
  );

  app.post(
    '/v1/sessions/:id/contexts',
    {
      schema: {
        summary: 'Start an interpreter context (python, javascript or typescript)',
        params: Id,
        body: ContextCreateRequest,
        response: { 201: CodeContext, ...errors },
      },
    },
    async (req, reply) => reply.status(201).send(await api.createContext(req.params.id, req.body)),
  );

  app.get(
    '/v1/sessions/:id/contexts',
    {
      schema: {
        summary: 'The interpreter contexts',
        params: Id,
        response: { 200: CodeContextList, ...errors },
      },
    },
    async (req) => ({ contexts: await api.listContexts(req.params.id) }),
  );

  app.post(
    '/v1/sessions/:id/contexts/:cid/restart',
    {
      schema: {
        summary: 'Restart a context: a fresh interpreter, its state gone',
        params: IdAndCommand,
        response: { 200: CodeContext, ...errors },
      },
    },
    async (req) => api.restartContext(req.params.id, req.params.cid),
  );

  app.delete(
    '/v1/sessions/:id/contexts/:cid',
    {
      schema: {
        summary: 'Delete a context',
        params: IdAndCommand,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await api.deleteContext(req.params.id, req.params.cid);
      return reply.status(204).send(null);
    },
  );
};
