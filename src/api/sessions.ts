/**
 * The sessions API's contract: the TypeBox schemas the server validates requests with and
 * describes answers by, and the types the SDK, the CLI and the MCP server derive from them. This
 * file imports TypeBox only, so the SDK can load it without the server.
 */
import { type Static, Type } from '@sinclair/typebox';
import { ValidateField } from './learning.js';

/** Strings that become argv, environment or file names: C strings on the way in, so no NUL. */
const NO_NUL = '^[^\\u0000]*$';
const PositiveInt = Type.Integer({ minimum: 1 });
const Env = Type.Record(
  Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$', maxLength: 256 }),
  Type.String({ maxLength: 32_768, pattern: NO_NUL }),
  {
    description: 'Names are [A-Za-z_][A-Za-z0-9_]*; values contain no NUL.',
  },
);
const Metadata = Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 1024 }), {
  description: 'Free labels to find the session by (GET /v1/sessions?metadata.key=value).',
});
const SandboxPath = Type.String({ minLength: 1, maxLength: 4096, pattern: NO_NUL });

export const SessionState = Type.Union([
  Type.Literal('starting'),
  Type.Literal('running'),
  Type.Literal('paused'),
  /** Its sandbox died (killed from inside, out of memory, lost agent); only `DELETE` is left. */
  Type.Literal('dead'),
  Type.Literal('ended'),
]);
export type SessionState = Static<typeof SessionState>;

export const SessionCreateRequest = Type.Object(
  {
    image: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'A catalog image (GET /v1/images).' }),
    ),
    language: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'Or a language: the session gets its image.' }),
    ),
    backend: Type.Optional(Type.String({ maxLength: 32 })),
    /** @default 1800000 (30 minutes) */
    ttlMs: Type.Optional(PositiveInt),
    memoryMb: Type.Optional(PositiveInt),
    vcpus: Type.Optional(PositiveInt),
    diskMb: Type.Optional(PositiveInt),
    env: Type.Optional(Env),
    metadata: Type.Optional(Metadata),
  },
  { additionalProperties: false, $id: 'SessionCreateRequest' },
);
export type SessionCreateRequest = Static<typeof SessionCreateRequest>;

export const Session = Type.Object(
  {
    id: Type.String(),
    state: SessionState,
    backend: Type.String(),
    image: Type.String(),
    /** The sandbox that runs it now (it changes on restore and resume); null while paused or dead. */
    sandboxId: Type.Union([Type.String(), Type.Null()]),
    /** What the backend can do: `memory-snapshots`, `fs-snapshots`, `pause`, … */
    capabilities: Type.Array(Type.String()),
    memoryMb: Type.Integer(),
    vcpus: Type.Integer(),
    diskMb: Type.Integer(),
    metadata: Metadata,
    createdAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({ format: 'date-time' }),
    /** Why the session is `dead`, when it is. */
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  },
  { $id: 'Session' },
);
export type Session = Static<typeof Session>;

export const SessionList = Type.Object({ sessions: Type.Array(Session) });
export type SessionList = Static<typeof SessionList>;

export const SessionExtendRequest = Type.Object(
  { ttlMs: PositiveInt },
  { additionalProperties: false, description: 'The session now expires ttlMs from now.' },
);
export type SessionExtendRequest = Static<typeof SessionExtendRequest>;

export const CommandRequest = Type.Object(
  {
    cmd: Type.Optional(
      Type.String({ minLength: 1, maxLength: 262_144, pattern: NO_NUL, description: 'Run with /bin/sh -c.' }),
    ),
    argv: Type.Optional(
      Type.Array(Type.String({ maxLength: 32_768, pattern: NO_NUL }), { minItems: 1, maxItems: 1024 }),
    ),
    cwd: Type.Optional(SandboxPath),
    env: Type.Optional(Env),
    stdin: Type.Optional(Type.String({ maxLength: 16 * 1024 * 1024 })),
    /** @default 60000 */
    timeoutMs: Type.Optional(PositiveInt),
    /** Start it and answer at once with its id; its output is kept for `GET …/commands/:cid`. */
    background: Type.Optional(Type.Boolean()),
    validate: ValidateField,
  },
  { additionalProperties: false, $id: 'CommandRequest' },
);
export type CommandRequest = Static<typeof CommandRequest>;

export const CommandResult = Type.Object(
  {
    id: Type.String(),
    state: Type.Union([Type.Literal('running'), Type.Literal('exited')]),
    exitCode: Type.Union([Type.Integer(), Type.Null()]),
    signal: Type.Union([Type.String(), Type.Null()]),
    stdout: Type.String(),
    stderr: Type.String(),
    timedOut: Type.Boolean(),
    truncated: Type.Boolean(),
    outOfMemory: Type.Boolean(),
    wallTimeMs: Type.Number(),
    cpuTimeMs: Type.Number(),
    peakMemoryKb: Type.Number(),
  },
  { $id: 'CommandResult' },
);
export type CommandResult = Static<typeof CommandResult>;

/** What a client sends on `GET /v1/sessions/:id/commands/ws`: `start` first, then the others. */
export const CommandSocketMessage = Type.Union([
  Type.Object(
    { type: Type.Literal('start'), ...Type.Omit(CommandRequest, ['background']).properties },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal('stdin'), data: Type.String({ maxLength: 1_048_576 }) },
    { additionalProperties: false },
  ),
  Type.Object({ type: Type.Literal('close-stdin') }, { additionalProperties: false }),
  Type.Object(
    { type: Type.Literal('signal'), signal: Type.String({ pattern: '^SIG[A-Z0-9]+$', maxLength: 16 }) },
    { additionalProperties: false },
  ),
]);
export type CommandSocketMessage = Static<typeof CommandSocketMessage>;

export const CommandList = Type.Object({ commands: Type.Array(CommandResult) });
export type CommandList = Static<typeof CommandList>;

export const CodeLanguage = Type.Union([
  Type.Literal('python'),
  Type.Literal('javascript'),
  Type.Literal('typescript'),
  Type.Literal('bash'),
]);
export type CodeLanguage = Static<typeof CodeLanguage>;

export const CodeRequest = Type.Object(
  {
    code: Type.String({ maxLength: 1_048_576 }),
    /** @default 'python' (or the context's language) */
    language: Type.Optional(CodeLanguage),
    /** A context id from POST …/contexts; without it, the session's default context of the language. */
    context: Type.Optional(Type.String({ maxLength: 64 })),
    /** @default 60000 */
    timeoutMs: Type.Optional(PositiveInt),
    /** Environment variables for this execution only; the context's own are back after it. */
    env: Type.Optional(Env),
  },
  { additionalProperties: false, $id: 'CodeRequest' },
);
export type CodeRequest = Static<typeof CodeRequest>;

export const CodeFormats = Type.Object({
  'text/plain': Type.Optional(Type.String()),
  'text/html': Type.Optional(Type.String()),
  /** base64 of the PNG bytes. */
  'image/png': Type.Optional(Type.String()),
  /** JSON text. */
  'application/json': Type.Optional(Type.String()),
});

export const CodeResult = Type.Object(
  {
    context: Type.String(),
    executionCount: Type.Integer(),
    stdout: Type.String(),
    stderr: Type.String(),
    /** The last expression's value: `text` is its repr (Python) or util.inspect (JavaScript). */
    result: Type.Union([Type.Object({ text: Type.String(), formats: CodeFormats }), Type.Null()]),
    /** What the code displayed as it ran (Python's `plt.show()`, `display(x)`), in order. */
    displays: Type.Optional(Type.Array(Type.Object({ text: Type.String(), formats: CodeFormats }))),
    error: Type.Union([
      Type.Object({ name: Type.String(), value: Type.String(), traceback: Type.String() }),
      Type.Null(),
    ]),
    timedOut: Type.Boolean(),
    /** The interpreter is gone and its variables with it (restart or delete the context). */
    contextLost: Type.Boolean(),
    outputTruncated: Type.Boolean(),
    wallTimeMs: Type.Number(),
  },
  { $id: 'CodeResult' },
);
export type CodeResult = Static<typeof CodeResult>;

export const ContextCreateRequest = Type.Object(
  {
    /** @default 'python' */
    language: Type.Optional(
      Type.Union([Type.Literal('python'), Type.Literal('javascript'), Type.Literal('typescript')]),
    ),
    cwd: Type.Optional(SandboxPath),
  },
  { additionalProperties: false },
);
export type ContextCreateRequest = Static<typeof ContextCreateRequest>;

export const CodeContext = Type.Object({
  id: Type.String(),
  language: Type.String(),
  cwd: Type.String(),
  executionCount: Type.Integer(),
  state: Type.Union([Type.Literal('idle'), Type.Literal('busy'), Type.Literal('dead')]),
});
export type CodeContext = Static<typeof CodeContext>;

export const CodeContextList = Type.Object({ contexts: Type.Array(CodeContext) });
export type CodeContextList = Static<typeof CodeContextList>;

export const FileEntry = Type.Object({
  name: Type.String(),
  path: Type.String(),
  type: Type.Union([
    Type.Literal('file'),
    Type.Literal('dir'),
    Type.Literal('symlink'),
    Type.Literal('other'),
  ]),
  size: Type.Number(),
  mode: Type.Integer(),
  mtime: Type.String({ format: 'date-time' }),
  /** Owner and group ids inside the sandbox (1000 is the sandbox's user, 0 root). */
  uid: Type.Optional(Type.Integer()),
  gid: Type.Optional(Type.Integer()),
  /** A symlink's target, as stored in the link. */
  symlinkTarget: Type.Optional(Type.String()),
});
export type FileEntry = Static<typeof FileEntry>;

export const FileList = Type.Object({ entries: Type.Array(FileEntry) });
export type FileList = Static<typeof FileList>;

/** `GET/PUT/DELETE /v1/sessions/:id/files?path=…` and `GET …/files/list?path=&depth=`. */
export const FilePathQuery = Type.Object(
  {
    path: SandboxPath,
    /** list: how deep to descend, 1 to 16. @default 1 */
    depth: Type.Optional(Type.String({ pattern: '^([1-9]|1[0-6])$' })),
    /** remove: include what is below. @default false */
    recursive: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')])),
  },
  { additionalProperties: false },
);
export type FilePathQuery = Static<typeof FilePathQuery>;

export const FileRenameRequest = Type.Object(
  { from: SandboxPath, to: SandboxPath },
  { additionalProperties: false },
);
export type FileRenameRequest = Static<typeof FileRenameRequest>;

export const SnapshotKind = Type.Union([Type.Literal('memory'), Type.Literal('filesystem')]);
export type SnapshotKind = Static<typeof SnapshotKind>;

export const SnapshotCreateRequest = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: NO_NUL })),
    /** @default the richest the backend has: `memory` on qemu and firecracker, else `filesystem` */
    kind: Type.Optional(SnapshotKind),
  },
  { additionalProperties: false },
);
export type SnapshotCreateRequest = Static<typeof SnapshotCreateRequest>;

export const Snapshot = Type.Object(
  {
    id: Type.String(),
    sessionId: Type.String(),
    name: Type.String(),
    kind: SnapshotKind,
    sizeBytes: Type.Number(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Snapshot' },
);
export type Snapshot = Static<typeof Snapshot>;

export const SnapshotList = Type.Object({ snapshots: Type.Array(Snapshot) });
export type SnapshotList = Static<typeof SnapshotList>;

export const RestoreRequest = Type.Object(
  { snapshotId: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
);
export type RestoreRequest = Static<typeof RestoreRequest>;

export const ForkRequest = Type.Object(
  { ttlMs: Type.Optional(PositiveInt), metadata: Type.Optional(Metadata) },
  { additionalProperties: false },
);
export type ForkRequest = Static<typeof ForkRequest>;
