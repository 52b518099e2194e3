import { Type } from '@sinclair/typebox';
import { ValidateField } from '../api/learning.js';
import { JOB_STATUSES } from '../jobs/types.js';

const PositiveInt = Type.Integer({ minimum: 1 });

/** Strings that become argv, environment or file names: C strings on the way in, so no NUL. */
const NO_NUL = '^[^\\u0000]*$';

export const LimitsSchema = Type.Object(
  {
    timeoutMs: Type.Optional(PositiveInt),
    cpuTimeMs: Type.Optional(PositiveInt),
    memoryMb: Type.Optional(PositiveInt),
    maxOutputBytes: Type.Optional(PositiveInt),
    maxProcesses: Type.Optional(PositiveInt),
  },
  { additionalProperties: false, description: 'Per-job limits; each is checked against the server maximum.' },
);

export const CompileLimitsSchema = Type.Object(
  {
    timeoutMs: Type.Optional(PositiveInt),
    cpuTimeMs: Type.Optional(PositiveInt),
    memoryMb: Type.Optional(PositiveInt),
  },
  {
    additionalProperties: false,
    description:
      "The compile step's limits (compiled languages); each at most HEARTH_COMPILE_TIMEOUT_MS or HEARTH_COMPILE_MEMORY_MB.",
  },
);

export const FileSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 255, pattern: NO_NUL })),
    content: Type.String(),
    encoding: Type.Optional(Type.Union([Type.Literal('utf8'), Type.Literal('base64')])),
  },
  { additionalProperties: false },
);

export const JobRequestSchema = Type.Object(
  {
    language: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'A language name or alias (GET /v1/languages).',
    }),
    version: Type.Optional(Type.String({ maxLength: 64 })),
    code: Type.Optional(Type.String({ description: 'The program; or send `files`.' })),
    files: Type.Optional(Type.Array(FileSchema, { minItems: 1, maxItems: 100 })),
    stdin: Type.Optional(Type.String()),
    args: Type.Optional(Type.Array(Type.String({ maxLength: 4096, pattern: NO_NUL }), { maxItems: 256 })),
    env: Type.Optional(
      Type.Record(Type.String(), Type.String({ maxLength: 32_768, pattern: NO_NUL }), {
        description: 'Names are [A-Za-z_][A-Za-z0-9_]*; names and values contain no NUL.',
      }),
    ),
    limits: Type.Optional(LimitsSchema),
    compileLimits: Type.Optional(CompileLimitsSchema),
    backend: Type.Optional(Type.String({ maxLength: 32 })),
    validate: ValidateField,
  },
  { additionalProperties: false, $id: 'JobRequest' },
);

export const JobIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });

export const WaitQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('1'), Type.Literal('0')]),
    ),
  },
  { additionalProperties: false },
);

export const ListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(JOB_STATUSES.map((s) => Type.Literal(s)))),
    language: Type.Optional(Type.String({ maxLength: 64 })),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$', description: '1–500; @default 50' })),
    cursor: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

/**
 * Items are checked in the route, after the count (BATCH_TOO_LARGE first), against JobRequestSchema:
 * a malformed item fails the batch with VALIDATION_FAILED naming its index.
 */
export const BatchSchema = Type.Object(
  { jobs: Type.Array(Type.Unknown({ description: 'A job request, as POST /v1/jobs' }), { minItems: 1 }) },
  { additionalProperties: false },
);

export const ClassicRunSchema = Type.Object(
  { language: Type.String({ maxLength: 64 }), code: Type.String() },
  { additionalProperties: false },
);

export const ErrorSchema = Type.Object({
  error: Type.Object(
    { code: Type.String(), message: Type.String(), hint: Type.String() },
    { additionalProperties: true },
  ),
});

export const AcceptedSchema = Type.Object({ id: Type.String(), status: Type.String() });
