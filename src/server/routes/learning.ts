import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import {
  CommandList,
  LessonList,
  Prediction,
  RelatedList,
  ValidateRequest,
  ValidationResult,
} from '../../api/learning.js';
import { normalizeCommand } from '../../learning/normalize.js';
import type { LearningService } from '../../learning/service.js';
import { ErrorSchema } from '../schemas.js';

export interface LearningRoutesOptions {
  learning: LearningService;
}

const Command = Type.String({ minLength: 1, maxLength: 4096 });
const Limit = Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$', description: '1–999' }));
const errors = { 400: ErrorSchema, 503: ErrorSchema };

/** The command knowledge graph's queries and input validation. */
export const learningRoutes: FastifyPluginAsyncTypebox<LearningRoutesOptions> = async (app, { learning }) => {
  const { knowledge } = learning;

  app.get(
    '/v1/learning/commands',
    {
      schema: {
        summary: 'The commands the graph has seen, most seen first, with its totals',
        querystring: Type.Object({ limit: Limit }, { additionalProperties: false }),
        response: { 200: CommandList, ...errors },
      },
    },
    async (req) => learning.commands(Number(req.query.limit ?? 100)),
  );

  app.get(
    '/v1/learning/predict',
    {
      schema: {
        summary: "A command's predicted success (after `previous`, when given), with suggestions",
        querystring: Type.Object(
          { command: Command, previous: Type.Optional(Command) },
          { additionalProperties: false },
        ),
        response: { 200: Prediction, ...errors },
      },
    },
    async (req) => {
      const p = await knowledge.predictSuccess(req.query.command, req.query.previous);
      return { ...p, suggestions: await knowledge.suggestions(p.command) };
    },
  );

  app.get(
    '/v1/learning/related',
    {
      schema: {
        summary: 'Commands seen next to this one, most often first',
        querystring: Type.Object({ command: Command, limit: Limit }, { additionalProperties: false }),
        response: { 200: RelatedList, ...errors },
      },
    },
    async (req) => {
      const related = await knowledge.relatedCommands(req.query.command, Number(req.query.limit ?? 10));
      return { command: normalizeCommand(req.query.command), related };
    },
  );

  app.get(
    '/v1/learning/lessons',
    {
      schema: {
        summary: 'Failures seen at least 3 times, with their confidence and most common fix',
        querystring: Type.Object(
          { command: Type.Optional(Command), limit: Limit },
          { additionalProperties: false },
        ),
        response: { 200: LessonList, ...errors },
      },
    },
    async (req) => ({
      lessons: await knowledge.lessons({
        limit: Number(req.query.limit ?? 50),
        ...(req.query.command ? { command: req.query.command } : {}),
      }),
    }),
  );

  app.post(
    '/v1/validate',
    {
      bodyLimit: 2 * 1024 * 1024,
      schema: {
        summary:
          "Check a command line or script against the server's thesaurus; `isValid` says whether it would run",
        body: ValidateRequest,
        response: { 200: ValidationResult, 400: ErrorSchema, 413: ErrorSchema },
      },
    },
    async (req) => learning.validate(req.body.input, req.body.strictness ?? 'normal'),
  );
};
