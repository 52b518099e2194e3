import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Session, SessionState } from '../../../api/sessions.js';
import { ENVD_VERSION, imageForTemplate, templateForImage } from '../../../e2b/templates.js';
import type { SandboxTokens } from '../../../e2b/tokens.js';
import { HearthError } from '../../../errors/hearth-error.js';
import type { SessionService } from '../../../sessions/service.js';
import { e2bError } from './errors.js';

/** E2B's default sandbox lifetime when create names none, in seconds. */
const DEFAULT_TIMEOUT_S = 300;
const PAGE_DEFAULT = 100;
const PAGE_MAX = 1000;

type Body = Record<string, unknown>;

function body(req: FastifyRequest): Body {
  const b = req.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b))
    throw e2bError(400, 'the request body must be a JSON object');
  return b as Body;
}

function optionalSeconds(b: Body, key: string): number | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw e2bError(400, `${key} must be a positive whole number of seconds`);
  return v;
}

function stringMap(b: Body, key: string): Record<string, string> | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw e2bError(400, `${key} must be an object of strings`);
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== 'string') throw e2bError(400, `${key}.${k} must be a string`);
  }
  return v as Record<string, string>;
}

/** E2B's two states: a hearth session is `running` or `paused`; any other is gone. */
function e2bState(s: SessionState): 'running' | 'paused' | undefined {
  return s === 'running' || s === 'paused' ? s : undefined;
}

/**
 * E2B's control plane (`/v2/sandboxes`, `/sandboxes/…`, `/snapshots`, `/templates/…`) on hearth's
 * sessions: an E2B sandbox is a session, its id the session's id. Errors are E2B's
 * `{code, message}`, with the HTTP status as `code` (the SDK tells 404 and 409 by the body).
 */
export async function e2bControlRoutes(
  app: FastifyInstance,
  o: { sessions: SessionService; tokens: SandboxTokens },
): Promise<void> {
  const { sessions, tokens } = o;

  const sandbox = (s: Session) => ({
    sandboxID: s.id,
    templateID: templateForImage(s.image),
    clientID: 'hearth',
    alias: templateForImage(s.image),
    envdVersion: ENVD_VERSION,
    envdAccessToken: tokens.envd(s.id),
    trafficAccessToken: tokens.traffic(s.id),
    domain: null,
  });

  const listed = (s: Session) => ({
    sandboxID: s.id,
    templateID: templateForImage(s.image),
    alias: templateForImage(s.image),
    clientID: 'hearth',
    cpuCount: s.vcpus,
    memoryMB: s.memoryMb,
    diskSizeMB: s.diskMb,
    envdVersion: ENVD_VERSION,
    startedAt: s.createdAt,
    endAt: s.expiresAt,
    state: e2bState(s.state) ?? 'running',
    metadata: s.metadata,
  });

  const lookup = (id: string): Promise<Session | undefined> =>
    sessions.getSession(id).catch((err: unknown) => {
      if (err instanceof HearthError && err.code === 'SESSION_NOT_FOUND') return undefined;
      throw err;
    });

  /** A session E2B can see: running or paused; anything else answers 404. */
  const find = async (id: string): Promise<Session> => {
    const s = await lookup(id);
    if (!s || !e2bState(s.state)) throw e2bError(404, `sandbox ${id} not found`);
    return s;
  };

  app.post('/v2/sandboxes', async (req, reply) => {
    const b = body(req);
    const templateId = b.templateID ?? 'base';
    if (typeof templateId !== 'string' || !templateId) throw e2bError(400, 'templateID must be a string');
    const timeoutS = optionalSeconds(b, 'timeout') ?? DEFAULT_TIMEOUT_S;
    const metadata = stringMap(b, 'metadata');
    const envVars = stringMap(b, 'envVars');
    let s: Session;
    if (templateId.startsWith('snap-')) {
      s = await sessions.forkSnapshot(templateId, {
        ttlMs: timeoutS * 1000,
        ...(metadata ? { metadata } : {}),
      });
    } else {
      const image = imageForTemplate(templateId);
      s = await sessions.createSession({
        image,
        ttlMs: timeoutS * 1000,
        ...(metadata ? { metadata } : {}),
        ...(envVars && Object.keys(envVars).length ? { env: envVars } : {}),
      });
    }
    return reply.code(201).send(sandbox(s));
  });

  app.get('/v2/sandboxes', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const states = (q.state ?? 'running,paused').split(',').filter(Boolean);
    for (const st of states) {
      if (st !== 'running' && st !== 'paused') throw e2bError(400, `state ${st} is not running or paused`);
    }
    const metadata = q.metadata ? Object.fromEntries(new URLSearchParams(q.metadata)) : undefined;
    const limit = q.limit === undefined ? PAGE_DEFAULT : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_MAX)
      throw e2bError(400, `limit must be a whole number from 1 to ${PAGE_MAX}`);
    const all = (
      await sessions.listSessions({ states: states as SessionState[], ...(metadata ? { metadata } : {}) })
    ).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    // The next-page token is the id of the last sandbox sent; the next page starts after it.
    const from = q.nextToken ? all.findIndex((s) => s.id === q.nextToken) + 1 : 0;
    if (q.nextToken && from === 0) throw e2bError(400, 'nextToken is not one this server gave');
    const page = all.slice(from, from + limit);
    const last = page.at(-1);
    if (last && from + limit < all.length) void reply.header('x-next-token', last.id);
    return page.map(listed);
  });

  app.get<{ Params: { id: string } }>('/sandboxes/:id', async (req) => {
    const s = await find(req.params.id);
    return {
      ...listed(s),
      domain: null,
      envdAccessToken: tokens.envd(s.id),
      allowInternetAccess: false,
      lifecycle: { onTimeout: 'kill', autoResume: false },
    };
  });

  app.delete<{ Params: { id: string } }>('/sandboxes/:id', async (req, reply) => {
    // A dead session (its sandbox died) is not listed, but killing it frees what it still holds.
    const s = await lookup(req.params.id);
    if (!s || s.state === 'ended') throw e2bError(404, `sandbox ${req.params.id} not found`);
    await sessions.deleteSession(req.params.id);
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string } }>('/sandboxes/:id/timeout', async (req, reply) => {
    const seconds = optionalSeconds(body(req), 'timeout');
    if (seconds === undefined) throw e2bError(400, 'timeout (seconds) is required');
    await find(req.params.id);
    await sessions.extendSession(req.params.id, seconds * 1000);
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string } }>('/v2/sandboxes/:id/connect', async (req, reply) => {
    const seconds = optionalSeconds(body(req), 'timeout');
    const before = await find(req.params.id);
    const s = before.state === 'paused' ? await sessions.resumeSession(before.id) : before;
    if (seconds !== undefined) await sessions.extendSession(s.id, seconds * 1000);
    return reply.code(before.state === 'paused' ? 201 : 200).send(sandbox(s));
  });

  app.post<{ Params: { id: string } }>('/sandboxes/:id/pause', async (req, reply) => {
    const s = await find(req.params.id);
    if (s.state === 'paused') throw e2bError(409, `sandbox ${s.id} is already paused`);
    if (!s.capabilities.includes('pause')) {
      throw e2bError(
        400,
        `sandbox ${s.id} runs on ${s.backend}, which cannot pause (pausing keeps memory: run it on qemu)`,
      );
    }
    await sessions.pauseSession(s.id);
    return reply.code(204).send();
  });

  // Hearth does not sample sandbox metrics over time: the list is empty.
  app.get<{ Params: { id: string } }>('/sandboxes/:id/metrics', async (req) => {
    await find(req.params.id);
    return [];
  });

  app.post<{ Params: { id: string } }>('/sandboxes/:id/snapshots', async (req, reply) => {
    const b = body(req);
    const name = b.name;
    if (name !== undefined && (typeof name !== 'string' || !name))
      throw e2bError(400, 'name must be a string');
    const s = await find(req.params.id);
    const snap = await sessions.createSnapshot(s.id, name ? { name } : {});
    return reply.code(201).send({ snapshotID: snap.id, names: [snap.name] });
  });

  app.get('/snapshots', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const owners = q.sandboxID
      ? [await find(q.sandboxID)]
      : await sessions.listSessions({ states: ['running', 'paused'] });
    const snaps = (await Promise.all(owners.map((s) => sessions.listSnapshots(s.id)))).flat();
    const matching = snaps.filter((s) => !q.name || s.name === q.name);
    const limit = q.limit === undefined ? PAGE_DEFAULT : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_MAX)
      throw e2bError(400, `limit must be a whole number from 1 to ${PAGE_MAX}`);
    const from = q.nextToken ? matching.findIndex((s) => s.id === q.nextToken) + 1 : 0;
    const page = matching.slice(from, from + limit);
    const last = page.at(-1);
    if (last && from + limit < matching.length) void reply.header('x-next-token', last.id);
    return page.map((s) => ({
      snapshotID: s.id,
      names: [s.name],
      sandboxID: s.sessionId,
      createdAt: s.createdAt,
    }));
  });

  app.delete<{ Params: { id: string } }>('/templates/:id', async (req, reply) => {
    await sessions.deleteSnapshot(req.params.id);
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string } }>('/sandboxes/:id/fork', async (req, reply: FastifyReply) => {
    const b = body(req);
    const seconds = optionalSeconds(b, 'timeout') ?? DEFAULT_TIMEOUT_S;
    const count = b.count === undefined ? 1 : b.count;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 16)
      throw e2bError(400, 'count must be a whole number from 1 to 16');
    const s = await find(req.params.id);
    const snap = await sessions.createSnapshot(s.id, { name: 'fork' });
    const forks = [];
    try {
      for (let i = 0; i < count; i++) {
        try {
          forks.push({ sandbox: sandbox(await sessions.forkSnapshot(snap.id, { ttlMs: seconds * 1000 })) });
        } catch (err) {
          const e = err instanceof HearthError ? err : new HearthError('INTERNAL', 'fork failed');
          forks.push({ error: { code: e.status, message: e.message } });
        }
      }
    } finally {
      await sessions.deleteSnapshot(snap.id).catch(() => {});
    }
    return reply.code(201).send(forks);
  });
}
