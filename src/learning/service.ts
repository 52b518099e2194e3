import type { CommandList, Strictness, ValidationResult } from '../api/learning.js';
import { HearthError } from '../errors/hearth-error.js';
import type { LearningStore } from '../store/learning-store.js';
import type { InputGate } from './input-gate.js';
import { CommandKnowledge, laplace } from './knowledge.js';
import { CommandRecorder, type ExecEventSource } from './recorder.js';
import { defaultThesaurus, loadThesaurusFile, Thesaurus } from './thesaurus.js';
import { assertValid, STRICTNESS, validateInput } from './validator.js';

export interface LearningConfig {
  /** Strictness applied to jobs and session commands that do not ask. `HEARTH_VALIDATE`; @default none (no check) */
  defaultStrictness?: Strictness;
  /** A thesaurus file added to the default one. `HEARTH_THESAURUS`; @default none */
  thesaurusPath?: string;
}

/** Reads the learning settings from the environment, once. */
export function learningConfig(env: NodeJS.ProcessEnv = process.env): LearningConfig {
  const v = env.HEARTH_VALIDATE?.trim();
  if (v && !(STRICTNESS as readonly string[]).includes(v)) {
    throw new HearthError('VALIDATION_FAILED', `HEARTH_VALIDATE=${v} is not a strictness`, {
      hint: `Set HEARTH_VALIDATE to one of ${STRICTNESS.join(', ')}, or unset it.`,
    });
  }
  return {
    ...(v ? { defaultStrictness: v as Strictness } : {}),
    ...(env.HEARTH_THESAURUS ? { thesaurusPath: env.HEARTH_THESAURUS } : {}),
  };
}

/** Learned commands loaded into the thesaurus at start (the most seen). */
const LEARNED_AT_START = 10_000;

export interface LearningServiceOptions {
  store: LearningStore;
  config?: LearningConfig;
  onWarning?: (obj: object, msg: string) => void;
}

/**
 * The command knowledge graph: records what the manager runs, answers predictions, related
 * commands, lessons and suggestions, and validates input against a thesaurus that grows with the
 * commands that have succeeded.
 */
export class LearningService implements InputGate {
  readonly knowledge: CommandKnowledge;
  readonly recorder: CommandRecorder;
  readonly thesaurus: Thesaurus;
  readonly config: LearningConfig;
  readonly #store: LearningStore;
  #closing: Promise<void> | undefined;

  constructor(o: LearningServiceOptions) {
    this.config = o.config ?? {};
    this.#store = o.store;
    const extra = this.config.thesaurusPath ? [loadThesaurusFile(this.config.thesaurusPath)] : [];
    this.thesaurus = new Thesaurus([defaultThesaurus(), ...extra]);
    this.knowledge = new CommandKnowledge({ store: o.store, sameConcept: (c) => this.#alternativesOf(c) });
    this.recorder = new CommandRecorder({
      store: o.store,
      onRecorded: (commands) => {
        for (const c of commands) this.thesaurus.add(c);
      },
      ...(o.onWarning ? { onWarning: o.onWarning } : {}),
    });
  }

  /** Loads what was learned before and starts recording the manager's execs. */
  async start(events?: ExecEventSource): Promise<void> {
    for (const c of await this.#store.listCommands({ limit: LEARNED_AT_START })) {
      if (c.successes > 0) this.thesaurus.add(c.command);
    }
    if (events) this.recorder.observe(events);
  }

  validate(input: string, strictness: Strictness = 'normal'): ValidationResult {
    return validateInput(this.thesaurus, input, strictness);
  }

  check(input: string, strictness?: Strictness): void {
    const s = strictness ?? this.config.defaultStrictness;
    if (s === undefined) return;
    assertValid(this.validate(input, s));
  }

  async commands(limit = 100): Promise<CommandList> {
    const [totals, nodes] = await Promise.all([this.#store.totals(), this.#store.listCommands({ limit })]);
    return {
      totals,
      commands: nodes.map((n) => ({
        command: n.command,
        successes: n.successes,
        failures: n.failures,
        successRate: laplace(n.successes, n.successes + n.failures),
        averageSuccessMs: n.successes ? n.successDurationMs / n.successes : null,
        lastSeenAt: new Date(n.lastSeenAtMs).toISOString(),
      })),
    };
  }

  /** Stops recording and writes what is queued. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.recorder.close();
    return this.#closing;
  }

  /**
   * Alternatives worth comparing: terms of the command's concept run by the same program
   * (`npm ci` / `npm install`), or any of a package-manager concept (`pip install` / `uv pip`).
   */
  #alternativesOf(command: string): string[] {
    const program = command.split(' ')[0];
    const packages = this.thesaurus.conceptOf(command)?.endsWith('.packages') ?? false;
    return this.thesaurus.sameConcept(command).filter((t) => packages || t.split(' ')[0] === program);
  }
}
