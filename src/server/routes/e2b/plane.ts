import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SandboxTokens } from '../../../e2b/tokens.js';
import type { SessionService } from '../../../sessions/service.js';

/** The ports E2B's SDKs address inside a sandbox: envd, and the code interpreter. */
export const ENVD_PORT = 49983;
export const INTERPRETER_PORT = 49999;

/** What the dispatcher learnt about a sandbox-plane request: the session it is for. */
export interface E2bTarget {
  /** The E2B sandbox id, which is the hearth session id. */
  sandboxId: string;
  port: typeof ENVD_PORT | typeof INTERPRETER_PORT;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set on sandbox-plane requests once their sandbox and token are checked. */
    e2b?: E2bTarget;
  }
}

const ENVD_PATH = /^\/(?:process\.Process\/[A-Za-z]+|filesystem\.Filesystem\/[A-Za-z]+|files|health)$/;
const INTERPRETER_PATH = /^\/(?:execute|contexts(?:\/[^/]+(?:\/restart)?)?)$/;

function pathOf(req: FastifyRequest): string {
  const url = req.url;
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

function portFor(path: string): E2bTarget['port'] | undefined {
  if (ENVD_PATH.test(path)) return ENVD_PORT;
  if (INTERPRETER_PATH.test(path)) return INTERPRETER_PORT;
  return undefined;
}

/**
 * A request for a sandbox: it names one in `E2b-Sandbox-Id` and asks for a path of envd or the
 * code interpreter. No such path is one of hearth's own routes (but `/health`, which without the
 * header stays hearth's own), so a header on any other path gives nothing: the request is checked
 * like every other.
 */
export function isSandboxPlane(req: FastifyRequest): boolean {
  if (typeof req.headers['e2b-sandbox-id'] === 'string') return portFor(pathOf(req)) !== undefined;
  return isSignedFileRequest(req);
}

/** A pre-signed `/files` URL (the SDK's uploadUrl/downloadUrl): it names no sandbox, only a signature. */
function isSignedFileRequest(req: FastifyRequest): boolean {
  return pathOf(req) === '/files' && typeof (req.query as Record<string, unknown>)?.signature === 'string';
}

/**
 * The signature of a pre-signed file URL: `v1_` + base64(SHA-256 of
 * `<path>:<read|write>:<user or empty>:<envd token>[:<expiry, unix s>]`) without padding.
 */
export function fileSignature(o: {
  path: string;
  operation: 'read' | 'write';
  user: string;
  envdToken: string;
  expiresAtS?: string;
}): string {
  const raw = [o.path, o.operation, o.user, o.envdToken, ...(o.expiresAtS ? [o.expiresAtS] : [])].join(':');
  return `v1_${createHash('sha256').update(raw).digest('base64').replace(/=+$/, '')}`;
}

/** The running sandbox whose envd token signed this URL, if one did and it has not expired. */
async function signedSandbox(
  req: FastifyRequest,
  o: { sessions: SessionService; tokens: SandboxTokens },
): Promise<string | undefined> {
  const q = req.query as Record<string, string | undefined>;
  const expiry = q.signature_expiration;
  if (expiry !== undefined && !(Number(expiry) * 1000 > Date.now())) return undefined;
  const operation = req.method === 'GET' ? 'read' : 'write';
  const running = await o.sessions.listSessions({ states: ['running'] });
  return running.find((s) =>
    SandboxTokens.matches(
      fileSignature({
        path: q.path ?? '',
        operation,
        user: q.username ?? '',
        envdToken: o.tokens.envd(s.id),
        ...(expiry !== undefined ? { expiresAtS: expiry } : {}),
      }),
      q.signature,
    ),
  )?.id;
}

/** Whether a path belongs to a Connect service (its errors are Connect errors). */
export function isConnectPath(path: string): boolean {
  return path.startsWith('/process.Process/') || path.startsWith('/filesystem.Filesystem/');
}

/**
 * Answers a sandbox-plane request that cannot reach its sandbox. E2B's proxy answers 502 for an
 * unknown or stopped sandbox; the SDK reads that as "sandbox not found" or a timeout, and a Connect
 * client maps a 502 to `unavailable`. Token failures are 401 (`unauthenticated` for Connect).
 */
function refuse(reply: FastifyReply, path: string, status: 401 | 502, message: string): FastifyReply {
  const body = isConnectPath(path)
    ? { code: status === 401 ? 'unauthenticated' : 'unavailable', message }
    : { code: status, message };
  return reply.code(status).header('content-type', 'application/json').send(JSON.stringify(body));
}

/**
 * The dispatcher of the E2B sandbox plane, a root `onRequest` hook: for a sandbox-plane request it
 * finds the session, checks it is running and checks the sandbox's own token (`X-Access-Token` for
 * envd, `E2B-Traffic-Access-Token` for the code interpreter; hearth's API tokens are never accepted
 * here), then marks the request with its target. `GET /health` for a sandbox is answered here.
 */
export function installE2bPlane(
  app: FastifyInstance,
  o: { sessions: SessionService; tokens: SandboxTokens },
): void {
  app.addHook('onRequest', async (req, reply) => {
    if (!isSandboxPlane(req)) return;
    const path = pathOf(req);
    if (req.headers['e2b-sandbox-id'] === undefined) {
      const sandboxId = await signedSandbox(req, o);
      if (!sandboxId)
        return refuse(reply, path, 401, 'the file URL is not signed by a running sandbox, or it expired');
      req.e2b = { sandboxId, port: ENVD_PORT };
      return undefined;
    }
    const sandboxId = req.headers['e2b-sandbox-id'] as string;
    const wanted = portFor(path) as E2bTarget['port'];
    const asked = Number(req.headers['e2b-sandbox-port'] ?? ENVD_PORT);
    if (asked !== wanted) return refuse(reply, path, 502, `nothing on port ${asked} answers ${path}`);
    const session = await o.sessions.getSession(sandboxId).catch(() => undefined);
    if (session?.state !== 'running') {
      const why = session ? `is ${session.state}` : 'does not exist';
      return refuse(reply, path, 502, `sandbox ${sandboxId} ${why}`);
    }
    const expected = wanted === ENVD_PORT ? o.tokens.envd(sandboxId) : o.tokens.traffic(sandboxId);
    const given =
      wanted === ENVD_PORT ? req.headers['x-access-token'] : req.headers['e2b-traffic-access-token'];
    if (!SandboxTokens.matches(expected, given)) {
      return refuse(reply, path, 401, `a valid access token for sandbox ${sandboxId} is required`);
    }
    // `/execute` also carries the envd token; when it is there it must be right too.
    const envdToken = req.headers['x-access-token'];
    if (wanted === INTERPRETER_PORT && envdToken !== undefined) {
      if (!SandboxTokens.matches(o.tokens.envd(sandboxId), envdToken))
        return refuse(reply, path, 401, `a valid access token for sandbox ${sandboxId} is required`);
    }
    req.e2b = { sandboxId, port: wanted };
    if (path === '/health' && req.method === 'GET') return reply.code(204).send();
    return undefined;
  });
}
