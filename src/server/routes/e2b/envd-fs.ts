import { posix } from 'node:path';
import {
  Code,
  ConnectError,
  createContextKey,
  createContextValues,
  type HandlerContext,
} from '@connectrpc/connect';
import { fastifyConnectPlugin } from '@connectrpc/connect-fastify';
import type { FastifyInstance } from 'fastify';
import { Filesystem } from '../../../e2b/gen/filesystem_pb.js';
import { HearthError } from '../../../errors/hearth-error.js';
import type { SessionService } from '../../../sessions/service.js';
import { toEntryInfo } from './envd-entry.js';
import { envdUser, resolveUserPath } from './envd-paths.js';
import { toConnectError } from './envd-process-errors.js';
import { watchDir } from './envd-watch.js';
import type { E2bTarget } from './plane.js';

export interface EnvdFilesystemOptions {
  sessions: SessionService;
  /** How often WatchDir lists the watched directory again. @default 250 */
  watchPollMs?: number;
}

/** The sandbox a request is for, as the plane's dispatcher found it (absent: no sandbox named). */
const TARGET = createContextKey<E2bTarget | undefined>(undefined, { description: 'E2B sandbox' });

function isNotFound(err: unknown): boolean {
  return err instanceof HearthError && err.code === 'FILE_NOT_FOUND';
}

/** The session and the absolute path of a request, or `unavailable` when no sandbox was named. */
function target(ctx: HandlerContext, path: string): { id: string; abs: string } {
  const t = ctx.values.get(TARGET);
  if (!t) throw new ConnectError('no sandbox named: send E2b-Sandbox-Id', Code.Unavailable);
  const user = envdUser({ authorization: ctx.requestHeader.get('authorization') ?? undefined });
  return { id: t.sandboxId, abs: resolveUserPath(path, user) };
}

/** Requests are a path or two; nothing near this. */
const MAX_REQUEST_BYTES = 64 * 1024;
/** The longest deadline honoured: past 2^31 - 1 ms Node's timers fire at once. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * envd's `filesystem.Filesystem` service on a session's files. Relative paths resolve against the
 * user's home; the entries carry absolute paths, as envd's do.
 */
export async function envdFilesystemRoutes(scope: FastifyInstance, o: EnvdFilesystemOptions): Promise<void> {
  const { sessions } = o;
  const onInternal = (err: unknown) => scope.log.error({ err }, 'envd filesystem call failed');
  /** Runs a handler with hearth's errors turned into the Connect errors the SDK expects. */
  const guarded = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toConnectError(err, onInternal);
    }
  };
  await scope.register(fastifyConnectPlugin, {
    connect: true,
    grpc: false,
    grpcWeb: false,
    // Newer SDKs may send fields this envd version does not know; they change nothing here.
    jsonOptions: { ignoreUnknownFields: true },
    readMaxBytes: MAX_REQUEST_BYTES,
    maxTimeoutMs: MAX_TIMEOUT_MS,
    // On server close, open WatchDir streams end at once instead of holding the close.
    shutdownTimeoutMs: 0,
    shutdownError: new ConnectError('the server is shutting down', Code.Unavailable),
    contextValues: (req) => createContextValues().set(TARGET, req.e2b),
    routes: (router) =>
      router.service(Filesystem, {
        stat: (req, ctx) =>
          guarded(async () => {
            const { id, abs } = target(ctx, req.path);
            return { entry: toEntryInfo(await sessions.statFile(id, abs)) };
          }),
        listDir: (req, ctx) =>
          guarded(async () => {
            const { id, abs } = target(ctx, req.path);
            const entries = await sessions.listFiles(id, abs, { depth: Math.max(1, req.depth) });
            return { entries: entries.map(toEntryInfo) };
          }),
        makeDir: (req, ctx) =>
          guarded(async () => {
            const { id, abs } = target(ctx, req.path);
            const existing = await sessions.statFile(id, abs).catch((err: unknown) => {
              if (isNotFound(err)) return undefined;
              throw err;
            });
            if (existing?.type === 'dir') throw new ConnectError(`${abs} already exists`, Code.AlreadyExists);
            if (existing)
              throw new ConnectError(`${abs} exists and is not a directory`, Code.InvalidArgument);
            return { entry: toEntryInfo(await sessions.makeDir(id, abs)) };
          }),
        move: (req, ctx) =>
          guarded(async () => {
            const { id, abs: from } = target(ctx, req.source);
            const to = target(ctx, req.destination).abs;
            // As envd does: the destination's parents are made first.
            const parent = posix.dirname(to);
            if (await sessions.statFile(id, parent).then(() => false, isNotFound))
              await sessions.makeDir(id, parent);
            return { entry: toEntryInfo(await sessions.renameFile(id, from, to)) };
          }),
        remove: (req, ctx) =>
          guarded(async () => {
            const { id, abs } = target(ctx, req.path);
            // envd removes like `rm -rf`: what is already gone is no error.
            await sessions.removeFile(id, abs, { recursive: true }).catch((err: unknown) => {
              if (!isNotFound(err)) throw err;
            });
            return {};
          }),
        async *watchDir(req, ctx) {
          let t: { id: string; abs: string };
          try {
            t = target(ctx, req.path);
          } catch (err) {
            throw toConnectError(err, onInternal);
          }
          yield* watchDir({
            sessions,
            sandboxId: t.id,
            path: t.abs,
            recursive: req.recursive,
            pollMs: o.watchPollMs ?? 250,
            keepaliveMs: keepaliveMs(ctx.requestHeader.get('keepalive-ping-interval')),
            signal: ctx.signal,
            fail: (err) => toConnectError(err, onInternal),
          });
        },
      }),
  });
}

/** `Keepalive-Ping-Interval` in seconds, bounded; none or nonsense: no keepalives. */
function keepaliveMs(header: string | null): number | undefined {
  const s = Number(header);
  if (!header || !Number.isFinite(s) || s <= 0) return undefined;
  return Math.min(Math.max(s, 1), 3600) * 1000;
}
