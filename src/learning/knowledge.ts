import type { CommandNode, LearningStore } from '../store/learning-store.js';
import { normalizeCommand } from './normalize.js';

/** The success rate of a command never seen. */
const PRIOR = 0.5;
/** A signature seen this often for one command becomes a lesson. */
const LESSON_MIN_OCCURRENCES = 3;
/** An operation slower than this on average (over enough successes) is worth caching. */
const SLOW_AVERAGE_MS = 30_000;
const SLOW_MIN_SUCCESSES = 5;
/** An alternative needs this many runs, and to beat the command by this much, to be suggested. */
const ALTERNATIVE_MIN_EVIDENCE = 3;
const ALTERNATIVE_MARGIN = 0.1;

export interface Prediction {
  command: string;
  previous: string | null;
  /** Laplace-smoothed: (successes + 1) / (runs + 2). */
  probability: number;
  /** What it rests on: the edge previous → command, the command alone, or nothing seen yet. */
  basis: 'edge' | 'node' | 'prior';
  /** Runs it rests on. */
  evidence: number;
  successes: number;
  failures: number;
}

export interface Lesson {
  command: string;
  signature: string;
  occurrences: number;
  /** 0.7 + min(0.05 × occurrences, 0.3). */
  confidence: number;
  /** The command that most often succeeded next in the same context, when one was seen. */
  fix: string | null;
  fixCount: number;
}

export type SuggestionKind = 'avoid-failure' | 'cache' | 'alternative';

export interface Suggestion {
  kind: SuggestionKind;
  command: string;
  message: string;
  /** avoid-failure: the lesson's confidence; alternative: the alternative's predicted success. */
  confidence?: number;
  alternative?: string;
}

export const laplace = (successes: number, runs: number) => (successes + 1) / (runs + 2);
export const lessonConfidence = (n: number) => 0.7 + Math.min(0.05 * n, 0.3);

/** Queries over the graph: predictions, related commands, lessons and suggestions. */
export class CommandKnowledge {
  readonly #store: LearningStore;
  readonly #sameConcept: (command: string) => string[];

  constructor(o: { store: LearningStore; sameConcept?: (command: string) => string[] }) {
    this.#store = o.store;
    this.#sameConcept = o.sameConcept ?? (() => []);
  }

  /** Commands are normalized first, so `git commit -m x` asks about `git commit`. */
  async predictSuccess(command: string, previous?: string): Promise<Prediction> {
    const cmd = normalizeCommand(command);
    const prev = previous ? normalizeCommand(previous) : null;
    if (prev !== null) {
      const edge = await this.#store.getEdge(prev, cmd);
      const n = edge ? edge.successes + edge.failures : 0;
      if (edge && n > 0) return this.#prediction(cmd, prev, 'edge', edge.successes, edge.failures);
    }
    const node = await this.#store.getCommand(cmd);
    if (node && node.successes + node.failures > 0)
      return this.#prediction(cmd, prev, 'node', node.successes, node.failures);
    return {
      command: cmd,
      previous: prev,
      probability: PRIOR,
      basis: 'prior',
      evidence: 0,
      successes: 0,
      failures: 0,
    };
  }

  #prediction(
    command: string,
    previous: string | null,
    basis: 'edge' | 'node',
    s: number,
    f: number,
  ): Prediction {
    return {
      command,
      previous,
      probability: laplace(s, s + f),
      basis,
      evidence: s + f,
      successes: s,
      failures: f,
    };
  }

  /** Commands seen next to this one (before or after), most often first. */
  async relatedCommands(command: string, limit = 10): Promise<Array<{ command: string; count: number }>> {
    return this.#store.coOccurring(normalizeCommand(command), { limit });
  }

  /** Repeated failures (≥ 3 of one signature for one command), most seen first. */
  async lessons(opts: { command?: string; limit?: number } = {}): Promise<Lesson[]> {
    const rows = await this.#store.failureSignatures({
      minCount: LESSON_MIN_OCCURRENCES,
      limit: opts.limit ?? 50,
      ...(opts.command ? { command: normalizeCommand(opts.command) } : {}),
    });
    return rows.map((r) => ({
      command: r.command,
      signature: r.signature,
      occurrences: r.count,
      confidence: lessonConfidence(r.count),
      fix: r.fix,
      fixCount: r.fixCount,
    }));
  }

  /** What to do about a command: avoid its known failures, cache it when slow, or use a better alternative. */
  async suggestions(command: string): Promise<Suggestion[]> {
    const cmd = normalizeCommand(command);
    const out: Suggestion[] = [];
    for (const l of await this.lessons({ command: cmd, limit: 5 })) {
      const fix = l.fix ? `; \`${l.fix}\` fixed it ${l.fixCount} time${l.fixCount === 1 ? '' : 's'}` : '';
      out.push({
        kind: 'avoid-failure',
        command: cmd,
        confidence: l.confidence,
        message: `\`${cmd}\` failed ${l.occurrences} times with "${l.signature}"${fix}`,
        ...(l.fix ? { alternative: l.fix } : {}),
      });
    }
    const node = await this.#store.getCommand(cmd);
    if (node && node.successes >= SLOW_MIN_SUCCESSES) {
      const avgMs = node.successDurationMs / node.successes;
      if (avgMs > SLOW_AVERAGE_MS) {
        out.push({
          kind: 'cache',
          command: cmd,
          message: `\`${cmd}\` takes ${Math.round(avgMs / 1000)} s on average over ${node.successes} successes: cache what it produces`,
        });
      }
    }
    const alt = await this.#betterAlternative(cmd, node);
    if (alt) out.push(alt);
    return out;
  }

  async #betterAlternative(cmd: string, node: CommandNode | undefined): Promise<Suggestion | undefined> {
    const own = node ? laplace(node.successes, node.successes + node.failures) : PRIOR;
    const candidates = new Set([
      ...(await this.#store.fixesOf(cmd)).map((f) => f.command),
      ...this.#sameConcept(cmd),
    ]);
    candidates.delete(cmd);
    let best: { command: string; p: number } | undefined;
    for (const c of candidates) {
      const n = await this.#store.getCommand(c);
      if (!n || n.successes + n.failures < ALTERNATIVE_MIN_EVIDENCE) continue;
      const p = laplace(n.successes, n.successes + n.failures);
      if (p >= own + ALTERNATIVE_MARGIN && (!best || p > best.p)) best = { command: c, p };
    }
    if (!best) return undefined;
    return {
      kind: 'alternative',
      command: cmd,
      alternative: best.command,
      confidence: best.p,
      message: `\`${best.command}\` succeeds more often (${best.p.toFixed(2)} predicted, against ${own.toFixed(2)})`,
    };
  }
}
