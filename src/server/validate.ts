import { type Static, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { HearthError } from '../errors/hearth-error.js';
import type { JobRequest } from '../jobs/types.js';
import { JobRequestSchema } from './schemas.js';

/**
 * The job request schema, compiled once, for inputs that do not come as a route body (batch items,
 * WebSocket messages): the same schema Fastify validates POST /v1/jobs with, so every way in
 * accepts and refuses the same requests.
 */
const jobRequest = TypeCompiler.Compile(JobRequestSchema);

interface Checker {
  Errors(value: unknown): { First(): { path: string; message: string } | undefined };
}

function firstError(check: Checker, value: unknown): string {
  const e = check.Errors(value).First();
  return e ? `${e.path || '/'} ${e.message}` : 'is not valid';
}

/** A job request, or VALIDATION_FAILED naming `where` (e.g. `jobs[2]`) and the first bad field. */
export function toJobRequest(value: unknown, where: string): JobRequest {
  if (jobRequest.Check(value)) return value as Static<typeof JobRequestSchema> as JobRequest;
  throw new HearthError('VALIDATION_FAILED', `${where}: ${firstError(jobRequest, value)}`);
}

const StdinMessage = Type.Object(
  { type: Type.Literal('stdin'), data: Type.String() },
  { additionalProperties: false },
);
const SignalMessage = Type.Object(
  { type: Type.Literal('signal'), signal: Type.String({ pattern: '^SIG[A-Z0-9]{1,12}$' }) },
  { additionalProperties: false },
);
const CloseStdinMessage = Type.Object({ type: Type.Literal('close-stdin') }, { additionalProperties: false });
const LATER = {
  stdin: TypeCompiler.Compile(StdinMessage),
  signal: TypeCompiler.Compile(SignalMessage),
  'close-stdin': TypeCompiler.Compile(CloseStdinMessage),
};

/** What a client sends on GET /v1/jobs/interactive. */
export type ClientMessage =
  | { type: 'init'; request: JobRequest }
  | Static<typeof StdinMessage>
  | Static<typeof SignalMessage>
  | Static<typeof CloseStdinMessage>;

/** One WebSocket message, parsed and checked: INVALID_JSON or VALIDATION_FAILED otherwise. */
export function parseClientMessage(raw: Buffer | string): ClientMessage {
  let msg: unknown;
  try {
    msg = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    throw new HearthError('INVALID_JSON', 'every message must be one JSON object');
  }
  if (!msg || typeof msg !== 'object' || Array.isArray(msg)) {
    throw new HearthError('VALIDATION_FAILED', 'every message must be one JSON object with a `type`');
  }
  const { type, ...rest } = msg as { type?: unknown };
  if (type === 'init') return { type: 'init', request: toJobRequest(rest, 'init') };
  if (type !== 'stdin' && type !== 'signal' && type !== 'close-stdin') {
    throw new HearthError(
      'VALIDATION_FAILED',
      `unknown message type ${JSON.stringify(type)}: send init, stdin, close-stdin or signal`,
    );
  }
  const check = LATER[type];
  if (check.Check(msg)) return msg as ClientMessage;
  throw new HearthError('VALIDATION_FAILED', `${type}: ${firstError(check, msg)}`);
}
