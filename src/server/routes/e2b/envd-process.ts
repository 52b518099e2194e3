import {
  Code,
  ConnectError,
  type ContextValues,
  createContextKey,
  createContextValues,
  type HandlerContext,
  type ServiceImpl,
} from '@connectrpc/connect';
import { fastifyConnectPlugin } from '@connectrpc/connect-fastify';
import type { FastifyInstance } from 'fastify';
import type { CommandResult } from '../../../api/sessions.js';
import { Process } from '../../../e2b/gen/process_pb.js';
import { HearthError } from '../../../errors/hearth-error.js';
import type { CommandListener } from '../../../sessions/commands.js';
import type { SessionService } from '../../../sessions/service.js';
import { commandIdOf, commandRequest, pidOf, processConfig, signalName } from './envd-process-config.js';
import { toConnectError } from './envd-process-errors.js';
import { deadlineError, EventQueue, endEvent, type ProcessEventInit } from './envd-process-events.js';
import type { E2bTarget } from './plane.js';

/** The largest request body (a SendInput's stdin is the big one); past it `resource_exhausted`. */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
/** The longest deadline Node's timers can wait for; the session's command maximum is lower still. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Keepalive intervals a client may ask for, in seconds. */
const KEEPALIVE_S = { min: 1, max: 3600 };
const NO_PTY =
  'hearth runs commands without a terminal: a PTY is not supported (run the command without `pty`)';

const TARGET = createContextKey<E2bTarget | undefined>(undefined, { description: 'the E2B sandbox' });

function sandboxOf(ctx: HandlerContext): string {
  const target = ctx.values.get(TARGET);
  if (!target) throw new ConnectError('name the sandbox in the E2b-Sandbox-Id header', Code.Unavailable);
  return target.sandboxId;
}

/** `Keepalive-Ping-Interval`, in seconds, as milliseconds; none when absent or out of range. */
function keepaliveMs(ctx: HandlerContext): number | undefined {
  const s = Number(ctx.requestHeader.get('keepalive-ping-interval') ?? Number.NaN);
  return Number.isInteger(s) && s >= KEEPALIVE_S.min && s <= KEEPALIVE_S.max ? s * 1000 : undefined;
}

function pidFor(commandId: string): number {
  const pid = pidOf(commandId);
  if (pid === undefined) throw new ConnectError(`command ${commandId} has no pid`, Code.Internal);
  return pid;
}

/** COMMAND_NOT_FOUND in envd's words (hearth's hint names its own REST routes). */
function notFound(commandId: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof HearthError && err.code === 'COMMAND_NOT_FOUND')
      throw new ConnectError(`no process with pid ${pidOf(commandId) ?? commandId}`, Code.NotFound);
    throw err;
  };
}

/** Output as `data` events: the bytes as the program wrote them, one event per chunk. */
function dataEvents(queue: EventQueue): CommandListener {
  return {
    onBytes: (stream, bytes) =>
      queue.push({ case: 'data', value: { output: { case: stream, value: Buffer.from(bytes) } } }),
  };
}

/** Ends `queue` as the command ends: `end`, `deadline_exceeded` at its deadline, or its error. */
function endWith(done: Promise<CommandResult>, queue: EventQueue): void {
  done.then(
    (r) => {
      if (r.timedOut) return queue.end(deadlineError());
      queue.push(endEvent(r));
      queue.end();
    },
    (err: unknown) => queue.end(err),
  );
}

/**
 * envd's `process.Process` on a session's commands. A process is a hearth command, in the
 * session's list while it runs (its pid is N of `cmd-N`). It outlives its stream: a client that
 * goes away leaves it running. The stream's deadline (`Connect-Timeout-Ms`, else the session's
 * longest command timeout) is the command's own timeout, as envd kills a process at its deadline.
 */
function processService(
  sessions: SessionService,
  onInternal: (err: unknown) => void,
): ServiceImpl<typeof Process> {
  const fail = (err: unknown) => toConnectError(err, onInternal);

  /** The id of a command that is still running; an unknown or finished one is `not_found`. */
  const runningCommand = async (sandboxId: string, selector: Parameters<typeof commandIdOf>[0]) => {
    const id = commandIdOf(selector);
    const c = await sessions.getCommand(sandboxId, id).catch(notFound(id));
    if (c.state === 'exited') throw new ConnectError(`process ${pidFor(id)} has exited`, Code.NotFound);
    return id;
  };

  const stream = async function* (queue: EventQueue, pid: number) {
    yield { event: { event: { case: 'start', value: { pid } } as ProcessEventInit } };
    for await (const event of queue.drain()) yield { event: { event } };
  };

  return {
    async *start(req, ctx) {
      try {
        const sandboxId = sandboxOf(ctx);
        if (req.pty) throw new ConnectError(NO_PTY, Code.Unimplemented);
        const left = ctx.timeoutMs();
        const timeoutMs = left === undefined ? sessions.config.maxTimeoutMs : Math.max(1, left);
        const request = commandRequest(req.process, timeoutMs);
        const queue = new EventQueue({ signal: ctx.signal, keepaliveMs: keepaliveMs(ctx) });
        // envd forgets a process once it exits: its output is not kept past its streams.
        const started = await sessions.startInteractive(sandboxId, request, dataEvents(queue), {
          stdin: req.stdin === true,
          forgetOnExit: true,
        });
        // A command that cannot start (its cwd is not there) is the call's error, not an `end`.
        // A program that is not there starts hearth's exec shim, which ends with exit status 127.
        await Promise.race([started.handle.started, started.done]);
        endWith(started.done, queue);
        yield* stream(queue, pidFor(started.id));
      } catch (err) {
        throw fail(err);
      }
    },

    async *connect(req, ctx) {
      try {
        const sandboxId = sandboxOf(ctx);
        const id = commandIdOf(req.process);
        const queue = new EventQueue({ signal: ctx.signal, keepaliveMs: keepaliveMs(ctx) });
        const attached = await sessions.attachCommand(sandboxId, id, dataEvents(queue)).catch(notFound(id));
        try {
          endWith(attached.done, queue);
          yield* stream(queue, pidFor(id));
        } finally {
          attached.detach();
        }
      } catch (err) {
        throw fail(err);
      }
    },

    async list(_req, ctx) {
      try {
        const running = await sessions.runningCommands(sandboxOf(ctx));
        return {
          processes: running.flatMap((c) => {
            const pid = pidOf(c.id);
            return pid === undefined ? [] : [{ pid, config: processConfig(c.request) }];
          }),
        };
      } catch (err) {
        throw fail(err);
      }
    },

    async sendSignal(req, ctx) {
      try {
        const sandboxId = sandboxOf(ctx);
        const signal = signalName(req.signal);
        const id = await runningCommand(sandboxId, req.process);
        await sessions.killCommand(sandboxId, id, signal);
        return {};
      } catch (err) {
        throw fail(err);
      }
    },

    async sendInput(req, ctx) {
      try {
        const sandboxId = sandboxOf(ctx);
        const input = req.input?.input;
        if (input?.case === 'pty') throw new ConnectError(NO_PTY, Code.Unimplemented);
        if (input?.case !== 'stdin') throw new ConnectError('input.stdin is required', Code.InvalidArgument);
        const id = await runningCommand(sandboxId, req.process);
        (await sessions.commandStdin(sandboxId, id)).writeStdin(Buffer.from(input.value));
        return {};
      } catch (err) {
        throw fail(err);
      }
    },

    async closeStdin(req, ctx) {
      try {
        const sandboxId = sandboxOf(ctx);
        const id = await runningCommand(sandboxId, req.process);
        (await sessions.commandStdin(sandboxId, id)).closeStdin();
        return {};
      } catch (err) {
        throw fail(err);
      }
    },

    async update() {
      throw new ConnectError(NO_PTY, Code.Unimplemented);
    },
  };
}

/**
 * POST /process.Process/<Method>: envd's Process service over Connect (JSON and binary), for the
 * sandbox `installE2bPlane` found in `E2b-Sandbox-Id`. Register it in a scope of its own: the
 * plugin brings its own body parsers.
 */
export async function envdProcessRoutes(
  app: FastifyInstance,
  o: { sessions: SessionService },
): Promise<void> {
  const onInternal = (err: unknown) => app.log.error({ err }, 'envd process call failed');
  await app.register(fastifyConnectPlugin, {
    routes: (router) => router.service(Process, processService(o.sessions, onInternal)),
    contextValues: (req): ContextValues => createContextValues().set(TARGET, req.e2b),
    // A newer SDK may send fields this one does not know; envd ignores them too.
    jsonOptions: { ignoreUnknownFields: true },
    binaryOptions: { readUnknownFields: false },
    readMaxBytes: MAX_REQUEST_BYTES,
    // A longer deadline overflows Node's timers, which would then fire at once.
    maxTimeoutMs: MAX_TIMER_MS,
    // Open streams end at once when the server closes, rather than holding its close up.
    shutdownTimeoutMs: 0,
    shutdownError: new ConnectError('the server is shutting down', Code.Unavailable),
  });
}
