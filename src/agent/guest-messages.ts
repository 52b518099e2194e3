/**
 * The host's check of everything the guest agent says. The guest is untrusted: a program inside
 * the sandbox may have taken over the agent or its stream. Each JSON frame must be one of the
 * GuestMessage shapes exactly, with bounded strings and finite numbers, and each successful
 * result's value must be what its request returns. Anything else is an AGENT_PROTOCOL error,
 * which ends the sandbox.
 */
import { type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { HearthError } from '../errors/hearth-error.js';
import type { GuestMessage, ResultValues } from './protocol.js';
import { REPL_RESULT_SCHEMAS } from './repl-schema.js';

/** The longest `log` message the host accepts. */
export const MAX_LOG_CHARS = 4096;
/** The longest error message, path or name the host accepts from the guest. */
const MAX_TEXT_CHARS = 8192;
const MAX_NAME_CHARS = 64;
/** Entries in one `file-list` answer (a 4 MiB frame holds fewer anyway). */
const MAX_LIST_ENTRIES = 100_000;

const Id = Type.Integer({ minimum: 1, maximum: 0xffff_ffff });
const Count = Type.Number({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Name = Type.String({ maxLength: MAX_NAME_CHARS });
const Text = Type.String({ maxLength: MAX_TEXT_CHARS });
const strict = { additionalProperties: false } as const;

const Result = Type.Object(
  {
    type: Type.Literal('result'),
    id: Id,
    ok: Type.Boolean(),
    value: Type.Optional(Type.Unknown()),
    error: Type.Optional(Type.Object({ code: Name, message: Text }, strict)),
  },
  strict,
);

const Exit = Type.Object(
  {
    type: Type.Literal('exit'),
    id: Id,
    exitCode: Type.Union([Type.Integer({ minimum: -(2 ** 31), maximum: 2 ** 31 - 1 }), Type.Null()]),
    signal: Type.Union([Type.String({ maxLength: 32 }), Type.Null()]),
    timedOut: Type.Boolean(),
    truncated: Type.Boolean(),
    outOfMemory: Type.Boolean(),
    cpuTimeMs: Count,
    wallTimeMs: Count,
    peakMemoryKb: Count,
  },
  strict,
);

const Log = Type.Object(
  {
    type: Type.Literal('log'),
    level: Type.Union([
      Type.Literal('debug'),
      Type.Literal('info'),
      Type.Literal('warn'),
      Type.Literal('error'),
    ]),
    message: Type.String({ maxLength: MAX_LOG_CHARS }),
  },
  strict,
);

/** The envelope of a guest call; its method and params are checked by the call table (guest-calls.ts). */
const Call = Type.Object(
  { type: Type.Literal('call'), id: Id, channel: Id, method: Name, params: Type.Unknown() },
  strict,
);

const FileStatSchema = Type.Object(
  {
    name: Text,
    path: Text,
    type: Type.Union([
      Type.Literal('file'),
      Type.Literal('dir'),
      Type.Literal('symlink'),
      Type.Literal('other'),
    ]),
    size: Count,
    mode: Type.Integer({ minimum: 0, maximum: 0xffff_ffff }),
    mtimeMs: Type.Number(),
    uid: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffff_ffff })),
    gid: Type.Optional(Type.Integer({ minimum: 0, maximum: 0xffff_ffff })),
    target: Type.Optional(Text),
  },
  strict,
);
const Size = Type.Object({ size: Count }, strict);

const RESULT_VALUES: { [K in keyof ResultValues]: TSchema } = {
  hello: Type.Object(
    {
      agentVersion: Name,
      protocolVersion: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
      capabilities: Type.Array(Name, { maxItems: 32 }),
      pid: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }),
      workDir: Type.String({ minLength: 1, maxLength: 4096 }),
      limitMechanism: Type.Union([
        Type.Literal('cgroup-v2'),
        Type.Literal('cgroup-v1'),
        Type.Literal('rlimit'),
      ]),
    },
    strict,
  ),
  exec: Type.Object({ pid: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }) }, strict),
  'close-stdin': Type.Null(),
  signal: Type.Null(),
  'file-read': Size,
  'file-write': Size,
  'file-list': Type.Array(FileStatSchema, { maxItems: MAX_LIST_ENTRIES }),
  'file-stat': FileStatSchema,
  'file-mkdir': Type.Null(),
  'file-remove': Type.Null(),
  ping: Type.Object({ nowMs: Type.Number() }, strict),
  'prepare-snapshot': Type.Null(),
  'after-restore': Type.Null(),
  shutdown: Type.Null(),
  ...REPL_RESULT_SCHEMAS,
};

type Checker = ReturnType<typeof TypeCompiler.Compile>;
const MESSAGES: Record<GuestMessage['type'], Checker> = {
  result: TypeCompiler.Compile(Result),
  exit: TypeCompiler.Compile(Exit),
  log: TypeCompiler.Compile(Log),
  call: TypeCompiler.Compile(Call),
};
const VALUES = Object.fromEntries(
  Object.entries(RESULT_VALUES).map(([k, s]) => [k, TypeCompiler.Compile(s)]),
) as Record<keyof ResultValues, Checker>;

/** The guest broke the protocol: `what` it sent, for the message. */
export function protocolError(what: string): HearthError {
  return new HearthError('AGENT_PROTOCOL', `the agent sent ${what}`);
}

/** `path: reason` of the first thing wrong, for the error message. */
function firstError(checker: Checker, value: unknown): string {
  const e = checker.Errors(value).First();
  return e ? `${e.path || '/'}: ${e.message}` : 'a value of the wrong shape';
}

/** Quotes at most a few dozen characters of untrusted text. */
function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/**
 * Parses and checks one JSON frame from the guest. Throws an AGENT_PROTOCOL HearthError naming what
 * was wrong; throws nothing else.
 */
export function parseGuestMessage(text: string): GuestMessage {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw protocolError(`a frame that is not JSON: ${quote(text)}`);
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg))
    throw protocolError(`a message that is not an object: ${quote(text)}`);
  const type = (msg as { type?: unknown }).type;
  const checker =
    typeof type === 'string' && Object.hasOwn(MESSAGES, type)
      ? MESSAGES[type as GuestMessage['type']]
      : undefined;
  if (!checker)
    throw protocolError(
      `a message of unknown type ${typeof type === 'string' ? quote(type) : quote(JSON.stringify(type) ?? typeof type)}`,
    );
  if (!checker.Check(msg)) throw protocolError(`a malformed ${type} message (${firstError(checker, msg)})`);
  const m = msg as GuestMessage;
  if (m.type === 'result' && m.ok && !('value' in m))
    throw protocolError('a successful result without a value');
  if (m.type === 'result' && !m.ok && !m.error) throw protocolError('a failed result without an error');
  return m;
}

/** Checks a successful result's value against what request `kind` returns. */
export function checkResultValue<K extends keyof ResultValues>(kind: K, value: unknown): ResultValues[K] {
  const checker = VALUES[kind];
  if (!checker.Check(value))
    throw protocolError(`a malformed ${kind} result (${firstError(checker, value)})`);
  return value as ResultValues[K];
}
