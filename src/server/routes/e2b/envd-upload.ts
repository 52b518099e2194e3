import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyRequest } from 'fastify';
import { HearthError } from '../../../errors/hearth-error.js';
import type { SessionService } from '../../../sessions/service.js';
import { type EnvdUser, resolveUserPath } from './envd-paths.js';
import { e2bError } from './errors.js';

/** What envd answers for each file written. */
export interface WrittenFile {
  name: string;
  type: 'file';
  path: string;
}

export interface UploadOptions {
  sessions: SessionService;
  sandboxId: string;
  user: EnvdUser;
  /** `?path=`: the target of a single-file write. */
  path: string | undefined;
  maxFileBytes: number;
}

/** Files one multipart request may write. */
const MAX_PARTS = 1000;

function written(abs: string): WrittenFile {
  return { name: posix.basename(abs), type: 'file', path: abs };
}

/** A body's chunks, with any stream error (a cut connection, bad gzip) a 400 instead of a 500. */
async function* chunksOf(stream: Readable, what: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (err) {
    if (err instanceof HearthError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new HearthError('BAD_REQUEST', `the ${what} could not be read: ${why}`, {
      hint: 'Send the whole body; with Content-Encoding: gzip it must be valid gzip.',
    });
  }
}

/**
 * `POST /files` with `application/octet-stream`: one file, named by `?path=`, written as it
 * arrives. `Content-Encoding: gzip` is undone on the way; the size cap counts the bytes written.
 */
export async function uploadRaw(req: FastifyRequest, o: UploadOptions): Promise<WrittenFile[]> {
  if (!o.path) throw e2bError(400, 'a raw upload names its file with ?path=');
  const abs = resolveUserPath(o.path, o.user);
  const body = req.body as Readable | undefined;
  if (!body || typeof body.pipe !== 'function') throw e2bError(400, 'the request has no body');
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
  let stream: Readable = body;
  if (encoding === 'gzip') stream = body.pipe(createGunzip());
  else if (encoding !== 'identity') throw e2bError(400, `unsupported Content-Encoding ${encoding}`);
  // The gunzip stream does not see the body's errors: pass them on so the read ends. An error
  // before the write starts reading (bad gzip while the file is being made) must not go
  // unheard: the stream keeps it, and reading it throws it, as a 400.
  if (stream !== body) body.on('error', (err) => stream.destroy(err));
  stream.on('error', () => {});
  await o.sessions.writeFileFrom(o.sandboxId, abs, chunksOf(stream, 'upload'), { maxBytes: o.maxFileBytes });
  return [written(abs)];
}

/**
 * `POST /files` with `multipart/form-data`: every part named `file` is one file, its target the
 * part's filename (or `?path=` when there is one part). Parts are written one after the other as
 * they stream in; other fields are skipped.
 */
export async function uploadMultipart(req: FastifyRequest, o: UploadOptions): Promise<WrittenFile[]> {
  try {
    return await writeParts(req, o);
  } catch (err) {
    // The form parser's own size cap (a backstop: the write counts bytes first) says the same.
    if ((err as { code?: unknown }).code === 'FST_REQ_FILE_TOO_LARGE') {
      throw new HearthError('FILE_TOO_LARGE', `a file is over ${o.maxFileBytes} bytes`, {
        hint: 'Send a smaller file, or raise HEARTH_MAX_FILE_BYTES on the server.',
      });
    }
    throw err;
  }
}

async function writeParts(req: FastifyRequest, o: UploadOptions): Promise<WrittenFile[]> {
  const out: WrittenFile[] = [];
  for await (const part of req.parts()) {
    if (part.type !== 'file') continue;
    if (part.fieldname !== 'file') {
      part.file.resume();
      continue;
    }
    if (out.length >= MAX_PARTS) throw e2bError(400, `more than ${MAX_PARTS} files in one request`);
    if (o.path !== undefined && out.length > 0) {
      throw e2bError(400, 'several files in one request take their paths from their filenames, not ?path=');
    }
    const target = o.path ?? part.filename;
    if (!target) throw e2bError(400, 'a file part needs its target path as its filename, or ?path=');
    const abs = resolveUserPath(target, o.user);
    await o.sessions.writeFileFrom(o.sandboxId, abs, chunksOf(part.file, 'file part'), {
      maxBytes: o.maxFileBytes,
    });
    out.push(written(abs));
  }
  if (!out.length) throw e2bError(400, 'the form has no part named `file`');
  return out;
}
