import type { Command } from 'commander';
import type {
  CommandList,
  LessonList,
  Prediction,
  RelatedList,
  Strictness,
  ValidationResult,
} from '../../api/learning.js';
import { hearthPaths } from '../../config/paths.js';
import { HearthError } from '../../errors/hearth-error.js';
import { normalizeCommand } from '../../learning/normalize.js';
import { LearningService, learningConfig } from '../../learning/service.js';
import { STRICTNESS } from '../../learning/validator.js';
import { LearningClient } from '../../sdk/learning-client.js';
import { SqliteStore } from '../../store/sqlite-store.js';
import { action, pad, positiveInt, printJson } from '../session-common.js';

/** What the commands ask: the server at HEARTH_URL, or this host's database. */
interface LearningSource {
  commands(limit: number): Promise<CommandList>;
  predict(command: string, previous?: string): Promise<Prediction>;
  related(command: string, limit: number): Promise<RelatedList>;
  lessons(command: string | undefined, limit: number): Promise<LessonList>;
  validate(input: string, strictness: Strictness): Promise<ValidationResult>;
}

async function withSource<T>(fn: (s: LearningSource) => Promise<T>): Promise<T> {
  if (process.env.HEARTH_URL) {
    const c = new LearningClient();
    return fn({
      commands: (limit) => c.commands({ limit }),
      predict: (command, previous) => c.predict(command, previous),
      related: (command, limit) => c.related(command, { limit }),
      lessons: (command, limit) => c.lessons({ limit, ...(command ? { command } : {}) }),
      validate: (input, strictness) => c.validate(input, strictness),
    });
  }
  const store = await SqliteStore.open({ path: hearthPaths().db });
  const learning = new LearningService({ store: store.learning, config: learningConfig() });
  try {
    await learning.start();
    const k = learning.knowledge;
    return await fn({
      commands: (limit) => learning.commands(limit),
      predict: async (command, previous) => {
        const p = await k.predictSuccess(command, previous);
        return { ...p, suggestions: await k.suggestions(p.command) };
      },
      related: async (command, limit) => ({
        command: normalizeCommand(command),
        related: await k.relatedCommands(command, limit),
      }),
      lessons: async (command, limit) => ({
        lessons: await k.lessons({ limit, ...(command ? { command } : {}) }),
      }),
      validate: async (input, strictness) => learning.validate(input, strictness),
    });
  } finally {
    await learning.close();
    await store.close();
  }
}

const limitOf = (v: string | undefined, fallback: number) => positiveInt('--limit', v) ?? fallback;

/** `hearth learn stats | predict | related | lessons` and `hearth validate "<text>"`. */
export function registerLearn(program: Command): void {
  const learn = program
    .command('learn')
    .description(
      "The command knowledge graph: what ran, how it went (HEARTH_URL, else this host's database)",
    );
  learn
    .command('stats')
    .description('Commands seen, most seen first, with success rates')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'as JSON')
    .action(
      action(async (f: { limit?: string; json?: boolean }) => {
        const list = await withSource((s) => s.commands(limitOf(f.limit, 20)));
        if (f.json) {
          printJson(list);
          return 0;
        }
        const t = list.totals;
        process.stdout.write(
          `${t.commands} commands, ${t.edges} edges, ${t.signatures} failure signatures\n`,
        );
        process.stdout.write(`${pad('COMMAND', 28)}${pad('OK', 7)}${pad('FAILED', 8)}${pad('RATE', 6)}AVG\n`);
        for (const c of list.commands) {
          const avg = c.averageSuccessMs === null ? '-' : `${(c.averageSuccessMs / 1000).toFixed(1)}s`;
          process.stdout.write(
            `${pad(c.command, 28)}${pad(String(c.successes), 7)}${pad(String(c.failures), 8)}${pad(c.successRate.toFixed(2), 6)}${avg}\n`,
          );
        }
        return 0;
      }),
    );
  learn
    .command('predict <command>')
    .description('Predicted success of a command, after --previous when given, with suggestions')
    .option('--previous <command>', 'the command run before it')
    .option('--json', 'as JSON')
    .action(
      action(async (command: string, f: { previous?: string; json?: boolean }) => {
        const p = await withSource((s) => s.predict(command, f.previous));
        if (f.json) {
          printJson(p);
          return 0;
        }
        const after = p.previous ? ` after ${p.previous}` : '';
        process.stdout.write(
          `${p.command}${after}: ${p.probability.toFixed(2)} (${p.basis}, ${p.evidence} runs)\n`,
        );
        for (const s of p.suggestions) process.stdout.write(`  ${s.kind}: ${s.message}\n`);
        return 0;
      }),
    );
  learn
    .command('related <command>')
    .description('Commands seen next to it, most often first')
    .option('--limit <n>', 'how many', '10')
    .option('--json', 'as JSON')
    .action(
      action(async (command: string, f: { limit?: string; json?: boolean }) => {
        const r = await withSource((s) => s.related(command, limitOf(f.limit, 10)));
        if (f.json) {
          printJson(r);
          return 0;
        }
        for (const x of r.related) process.stdout.write(`${pad(x.command, 28)}${x.count}\n`);
        return 0;
      }),
    );
  learn
    .command('lessons')
    .description('Failures seen at least 3 times, with confidence and most common fix')
    .option('--command <command>', 'only this command')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'as JSON')
    .action(
      action(async (f: { command?: string; limit?: string; json?: boolean }) => {
        const r = await withSource((s) => s.lessons(f.command, limitOf(f.limit, 20)));
        if (f.json) {
          printJson(r);
          return 0;
        }
        for (const l of r.lessons) {
          const fix = l.fix ? `  fix: ${l.fix} (${l.fixCount}×)` : '';
          process.stdout.write(
            `${l.command}: "${l.signature}" ×${l.occurrences}, confidence ${l.confidence.toFixed(2)}${fix}\n`,
          );
        }
        return 0;
      }),
    );

  program
    .command('validate <text>')
    .description('Check a command line or script against the thesaurus; exit 1 when it would be refused')
    .option('--strictness <level>', STRICTNESS.join(' | '), 'normal')
    .option('--json', 'as JSON')
    .action(
      action(async (text: string, f: { strictness: string; json?: boolean }) => {
        if (!(STRICTNESS as readonly string[]).includes(f.strictness))
          throw new HearthError('VALIDATION_FAILED', `--strictness must be one of ${STRICTNESS.join(', ')}`);
        const r = await withSource((s) => s.validate(text, f.strictness as Strictness));
        if (f.json) printJson(r);
        else process.stdout.write(`${r.message}\n`);
        return r.isValid ? 0 : 1;
      }),
    );
}
