import { posix } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { FileEntry } from '../../../api/sessions.js';
import { EventType, type WatchDirResponse, WatchDirResponseSchema } from '../../../e2b/gen/filesystem_pb.js';
import type { SessionService } from '../../../sessions/service.js';
import { agentPathToAbsolute } from './envd-paths.js';

/** Entries a watch follows at most: each poll lists them all again. */
const MAX_WATCHED_ENTRIES = 2000;
/** How deep a recursive watch looks. */
const RECURSIVE_DEPTH = 32;

export interface WatchOptions {
  sessions: SessionService;
  sandboxId: string;
  /** The watched directory, absolute. */
  path: string;
  recursive: boolean;
  pollMs: number;
  /** Send a keepalive after this long without an event; undefined: never. */
  keepaliveMs: number | undefined;
  /** Aborted when the client goes, the deadline passes or the server closes. */
  signal: AbortSignal;
  /** The Connect error for what a listing threw. */
  fail: (err: unknown) => ConnectError;
}

/** What a poll remembers of an entry: a change of any part is a write. */
type Seen = Map<string, string>;

async function look(o: WatchOptions): Promise<Seen> {
  const entries = await o.sessions.listFiles(o.sandboxId, o.path, {
    depth: o.recursive ? RECURSIVE_DEPTH : 1,
  });
  if (entries.length > MAX_WATCHED_ENTRIES) {
    throw new ConnectError(
      `${o.path} holds more than ${MAX_WATCHED_ENTRIES} entries; watch a smaller directory`,
      Code.ResourceExhausted,
    );
  }
  const seen: Seen = new Map();
  for (const e of entries) seen.set(posix.relative(o.path, agentPathToAbsolute(e.path)), signature(e));
  return seen;
}

/**
 * A directory's mtime moves whenever an entry in it comes or goes, which inotify on its parent
 * does not report: a directory is compared by its type and mode alone.
 */
function signature(e: FileEntry): string {
  return e.type === 'dir' ? `dir:${e.mode}` : `${e.type}:${e.size}:${e.mtime}:${e.mode}`;
}

function event(name: string, type: EventType): WatchDirResponse {
  return create(WatchDirResponseSchema, { event: { case: 'filesystem', value: { name, type } } });
}

/** The events that turn `before` into `after`, names relative to the watched directory. */
function* diff(before: Seen, after: Seen): Generator<WatchDirResponse> {
  for (const [name, sig] of after) {
    const was = before.get(name);
    if (was === undefined) yield event(name, EventType.CREATE);
    else if (was !== sig) yield event(name, EventType.WRITE);
  }
  for (const name of before.keys()) if (!after.has(name)) yield event(name, EventType.REMOVE);
}

/**
 * envd's WatchDir, by polling. hearth's agent has no inotify channel, so the directory is listed
 * every `pollMs` and compared with the listing before: a new entry is CREATE, a changed size,
 * mtime, type or mode is WRITE (a directory's mtime excepted), a missing one REMOVE. A rename
 * shows as REMOVE and CREATE, and a change undone within one interval is not seen. The stream
 * starts with `start{}` once the directory is known to exist, and ends when the client goes, the
 * deadline passes, the sandbox ends (`unavailable`) or the directory goes (`not_found`).
 */
export async function* watchDir(o: WatchOptions): AsyncGenerator<WatchDirResponse> {
  let seen: Seen;
  try {
    seen = await look(o);
  } catch (err) {
    throw o.fail(err);
  }
  yield create(WatchDirResponseSchema, { event: { case: 'start', value: {} } });
  let quietSinceMs = Date.now();
  while (!o.signal.aborted) {
    try {
      await sleep(o.pollMs, undefined, { signal: o.signal });
    } catch {
      return;
    }
    let now: Seen;
    try {
      now = await look(o);
    } catch (err) {
      if (o.signal.aborted) return;
      throw o.fail(err);
    }
    let sent = false;
    for (const e of diff(seen, now)) {
      sent = true;
      yield e;
    }
    seen = now;
    if (sent) quietSinceMs = Date.now();
    else if (o.keepaliveMs !== undefined && Date.now() - quietSinceMs >= o.keepaliveMs) {
      quietSinceMs = Date.now();
      yield create(WatchDirResponseSchema, { event: { case: 'keepalive', value: {} } });
    }
  }
}
