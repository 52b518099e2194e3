import { PassThrough } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { FileEntry, FileList, FilePathQuery, FileRenameRequest } from '../../api/sessions.js';
import { HearthError } from '../../errors/hearth-error.js';
import type { SessionService } from '../../sessions/service.js';
import { ErrorSchema } from '../schemas.js';

export interface SessionFileRoutesOptions {
  api: SessionService;
  /** The largest file a PUT may send. `HEARTH_MAX_FILE_BYTES`; @default 256 MiB */
  maxFileBytes: number;
}

const Id = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
const errors = { 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema, 410: ErrorSchema, 413: ErrorSchema };

/** Files of a session: raw bytes in and out, listings, stat, mkdir, rename, remove. */
export const sessionFileRoutes: FastifyPluginAsyncTypebox<SessionFileRoutesOptions> = async (
  app,
  { api, maxFileBytes },
) => {
  // The upload is handed to the route as the request stream itself, and written as it arrives.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.get(
    '/v1/sessions/:id/files',
    {
      schema: {
        summary: "A file's bytes (application/octet-stream)",
        params: Id,
        querystring: FilePathQuery,
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }), ...errors },
      },
    },
    async (req, reply) => {
      // The answer starts with the first piece: a missing file is still a plain error answer, and
      // a read that fails later cuts the body short (the client sees an incomplete response).
      const body = new PassThrough();
      let started: () => void = () => {};
      const first = new Promise<void>((r) => {
        started = r;
      });
      const done = api.readFileStream(req.params.id, req.query.path, (bytes) => {
        started();
        body.write(bytes);
      });
      await Promise.race([first, done]);
      done.then(
        () => body.end(),
        (err: unknown) => body.destroy(err instanceof Error ? err : new Error(String(err))),
      );
      return reply.type('application/octet-stream').send(body);
    },
  );

  app.put(
    '/v1/sessions/:id/files',
    {
      bodyLimit: maxFileBytes,
      schema: {
        summary:
          'Write a file from the raw body (Content-Type: application/octet-stream); parent dirs are made',
        params: Id,
        querystring: FilePathQuery,
        response: { 200: FileEntry, ...errors },
      },
    },
    async (req) => {
      const body = req.body as AsyncIterable<Buffer> | undefined;
      if (!body || typeof (body as AsyncIterable<Buffer>)[Symbol.asyncIterator] !== 'function') {
        throw new HearthError('UNSUPPORTED_MEDIA_TYPE', 'send the file as the raw body', {
          hint: 'Use Content-Type: application/octet-stream.',
        });
      }
      return api.writeFileFrom(req.params.id, req.query.path, body, { maxBytes: maxFileBytes });
    },
  );

  app.get(
    '/v1/sessions/:id/files/list',
    {
      schema: {
        summary: 'A directory listing, `depth` levels down',
        params: Id,
        querystring: FilePathQuery,
        response: { 200: FileList, ...errors },
      },
    },
    async (req) => ({
      entries: await api.listFiles(req.params.id, req.query.path, {
        ...(req.query.depth ? { depth: Number(req.query.depth) } : {}),
      }),
    }),
  );

  app.get(
    '/v1/sessions/:id/files/stat',
    {
      schema: {
        summary: 'A file or directory',
        params: Id,
        querystring: FilePathQuery,
        response: { 200: FileEntry, ...errors },
      },
    },
    async (req) => api.statFile(req.params.id, req.query.path),
  );

  app.post(
    '/v1/sessions/:id/files/mkdir',
    {
      schema: {
        summary: 'Make a directory and its parents',
        params: Id,
        querystring: FilePathQuery,
        response: { 200: FileEntry, ...errors },
      },
    },
    async (req) => api.makeDir(req.params.id, req.query.path),
  );

  app.post(
    '/v1/sessions/:id/files/rename',
    {
      schema: {
        summary: 'Move a file or directory',
        params: Id,
        body: FileRenameRequest,
        response: { 200: FileEntry, ...errors },
      },
    },
    async (req) => api.renameFile(req.params.id, req.body.from, req.body.to),
  );

  app.delete(
    '/v1/sessions/:id/files',
    {
      schema: {
        summary: 'Remove a file, or a directory with ?recursive=true',
        params: Id,
        querystring: FilePathQuery,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (req, reply) => {
      await api.removeFile(req.params.id, req.query.path, { recursive: req.query.recursive === 'true' });
      return reply.status(204).send(null);
    },
  );
};
