import { PassThrough, pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HearthError } from '../../../errors/hearth-error.js';
import type { SessionService } from '../../../sessions/service.js';
import { type EnvdUser, envdUser, resolveUserPath } from './envd-paths.js';
import { uploadMultipart, uploadRaw } from './envd-upload.js';
import { e2bError, useE2bRestShape } from './errors.js';

export interface EnvdFilesOptions {
  sessions: SessionService;
  /** The largest file one upload may write (each file of a multipart upload on its own). */
  maxFileBytes: number;
}

/** Files smaller than this go out plain even to a client that accepts gzip: not worth it. */
const GZIP_MIN_BYTES = 1024;

interface FilesQuery {
  path?: string;
  username?: string;
}

function query(req: FastifyRequest): FilesQuery {
  const q = (req.query ?? {}) as Record<string, unknown>;
  const one = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  return { path: one(q.path), username: one(q.username) };
}

/** The sandbox and user of a `/files` request; no sandbox named is E2B's proxy's 502. */
function caller(req: FastifyRequest): { sandboxId: string; user: EnvdUser } {
  if (!req.e2b) throw e2bError(502, 'no sandbox named: send E2b-Sandbox-Id');
  const q = query(req);
  try {
    return {
      sandboxId: req.e2b.sandboxId,
      user: envdUser({ username: q.username, authorization: req.headers.authorization }),
    };
  } catch (err) {
    throw e2bError(400, err instanceof Error ? err.message : String(err));
  }
}

function acceptsGzip(req: FastifyRequest): boolean {
  const header = String(req.headers['accept-encoding'] ?? '');
  return header.split(',').some((part) => {
    const [name, ...params] = part.trim().split(';');
    if (name?.trim().toLowerCase() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * `GET /files?path=`: the file's bytes as they come from the sandbox, with its size as
 * Content-Length (from a stat first), or gzip-encoded when the client accepts gzip and the file is
 * not tiny. A file that changes size during the read cuts the answer short rather than lie. A
 * symlink's own size says nothing of what the read (which follows it) sends: it goes chunked.
 */
async function readFile(
  o: EnvdFilesOptions,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { sandboxId, user } = caller(req);
  const { path } = query(req);
  if (!path) throw e2bError(400, 'name the file with ?path=');
  const abs = resolveUserPath(path, user);
  const st = await o.sessions.statFile(sandboxId, abs);
  if (st.type === 'dir') throw e2bError(400, `${abs} is a directory`);
  const gzip = acceptsGzip(req) && (st.type !== 'file' || st.size >= GZIP_MIN_BYTES);
  // The length the answer promises, when it promises one.
  const length = !gzip && st.type === 'file' ? st.size : undefined;
  const body = new PassThrough();
  let started: () => void = () => {};
  const first = new Promise<void>((r) => {
    started = r;
  });
  let sent = 0;
  const done = o.sessions.readFileStream(sandboxId, abs, (bytes) => {
    started();
    if (body.destroyed) return;
    sent += bytes.length;
    if (length !== undefined && sent > length) body.destroy(new Error(`${abs} grew during the read`));
    else body.write(bytes);
  });
  // Until the first piece a failure (the file vanished since the stat) is still a plain answer.
  await Promise.race([first, done]);
  done.then(
    () => {
      if (length !== undefined && sent !== length)
        body.destroy(new Error(`${abs} changed size during the read`));
      else body.end();
    },
    (err: unknown) => body.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  reply.type('application/octet-stream');
  if (gzip) {
    // pipeline, not pipe: a read that fails must end the gzip stream too, or the answer hangs.
    const zipped = pipeline(body, createGzip(), () => {});
    return reply.header('content-encoding', 'gzip').header('vary', 'Accept-Encoding').send(zipped);
  }
  if (length !== undefined) reply.header('content-length', String(length));
  return reply.send(body);
}

/** envd's plain-HTTP `/files`: a file's bytes out, and uploads in (multipart or raw, maybe gzip). */
export async function envdFilesRoutes(scope: FastifyInstance, o: EnvdFilesOptions): Promise<void> {
  useE2bRestShape(scope);
  // A raw upload is handed to the route as the request stream itself, and written as it arrives.
  scope.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  await scope.register(multipart, {
    // The target path is the part's filename: keep its directories.
    preservePath: true,
    // One past the cap, so the write's own count (which names the cap) is what refuses first.
    limits: { fileSize: o.maxFileBytes + 1, files: 1000, fields: 100, parts: 1100, fieldSize: 64 * 1024 },
  });

  scope.get('/files', (req, reply) => readFile(o, req, reply));

  scope.post('/files', async (req) => {
    const { sandboxId, user } = caller(req);
    const opts = {
      sessions: o.sessions,
      sandboxId,
      user,
      path: query(req).path,
      maxFileBytes: o.maxFileBytes,
    };
    if (req.isMultipart()) return uploadMultipart(req, opts);
    if (req.body !== undefined && typeof (req.body as { pipe?: unknown }).pipe === 'function')
      return uploadRaw(req, opts);
    throw new HearthError(
      'UNSUPPORTED_MEDIA_TYPE',
      'send the file as multipart/form-data or application/octet-stream',
      {
        hint: 'A form with a part named `file`, or the raw bytes with ?path=.',
      },
    );
  });
}
