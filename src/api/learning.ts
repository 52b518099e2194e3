/**
 * The learning API's contract: validation and the command knowledge graph's queries, as the
 * TypeBox schemas the server validates and describes with. Imports TypeBox only, for the SDK.
 */
import { type Static, Type } from '@sinclair/typebox';

/**
 * `permissive` reports only; `normal` refuses likely typos (an unknown command close to a known
 * one); `strict` refuses any unknown command.
 */
export const Strictness = Type.Union(
  [Type.Literal('permissive'), Type.Literal('normal'), Type.Literal('strict')],
  {
    $id: 'Strictness',
  },
);
export type Strictness = Static<typeof Strictness>;

/** The `validate` field of a job or session command request. */
export const ValidateField = Type.Optional(
  Type.Union([Type.Literal('permissive'), Type.Literal('normal'), Type.Literal('strict')], {
    description:
      "Check the command against the server's thesaurus first; refused input answers 422 INPUT_REJECTED before anything runs. @default the server's HEARTH_VALIDATE (unset: no check)",
  }),
);

export const ValidateRequest = Type.Object(
  {
    input: Type.String({ maxLength: 1_048_576, description: 'A command line or a shell script.' }),
    /** @default normal */
    strictness: Type.Optional(Strictness),
  },
  { additionalProperties: false, $id: 'ValidateRequest' },
);
export type ValidateRequest = Static<typeof ValidateRequest>;

export const ValidationResult = Type.Object(
  {
    isValid: Type.Boolean(),
    matchedTerms: Type.Array(Type.String()),
    unknownTerms: Type.Array(Type.String()),
    suggestions: Type.Array(Type.String()),
    strictness: Strictness,
    message: Type.String(),
  },
  { $id: 'ValidationResult' },
);
export type ValidationResult = Static<typeof ValidationResult>;

export const CommandStats = Type.Object({
  command: Type.String(),
  successes: Type.Integer(),
  failures: Type.Integer(),
  /** Laplace-smoothed success rate of the command alone. */
  successRate: Type.Number(),
  averageSuccessMs: Type.Union([Type.Number(), Type.Null()]),
  lastSeenAt: Type.String(),
});

export const CommandList = Type.Object(
  {
    totals: Type.Object({
      commands: Type.Integer(),
      edges: Type.Integer(),
      signatures: Type.Integer(),
      outcomes: Type.Integer(),
    }),
    commands: Type.Array(CommandStats),
  },
  { $id: 'LearningCommandList' },
);
export type CommandList = Static<typeof CommandList>;

export const Prediction = Type.Object(
  {
    command: Type.String(),
    previous: Type.Union([Type.String(), Type.Null()]),
    probability: Type.Number(),
    basis: Type.Union([Type.Literal('edge'), Type.Literal('node'), Type.Literal('prior')]),
    evidence: Type.Integer(),
    successes: Type.Integer(),
    failures: Type.Integer(),
    suggestions: Type.Array(
      Type.Object({
        kind: Type.Union([Type.Literal('avoid-failure'), Type.Literal('cache'), Type.Literal('alternative')]),
        command: Type.String(),
        message: Type.String(),
        confidence: Type.Optional(Type.Number()),
        alternative: Type.Optional(Type.String()),
      }),
    ),
  },
  { $id: 'LearningPrediction' },
);
export type Prediction = Static<typeof Prediction>;

export const RelatedList = Type.Object(
  {
    command: Type.String(),
    related: Type.Array(Type.Object({ command: Type.String(), count: Type.Integer() })),
  },
  { $id: 'LearningRelated' },
);
export type RelatedList = Static<typeof RelatedList>;

export const LessonList = Type.Object(
  {
    lessons: Type.Array(
      Type.Object({
        command: Type.String(),
        signature: Type.String(),
        occurrences: Type.Integer(),
        confidence: Type.Number(),
        fix: Type.Union([Type.String(), Type.Null()]),
        fixCount: Type.Integer(),
      }),
    ),
  },
  { $id: 'LearningLessons' },
);
export type LessonList = Static<typeof LessonList>;
