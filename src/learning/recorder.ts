import type { ExecFinishedEvent, ManagerEvents } from '../sandboxes/events.js';
import type { CommandOutcome, LearningStore } from '../store/learning-store.js';
import { normalizeScript, normalizeWords } from './normalize.js';
import { errorSignature } from './signature.js';

/**
 * Exec labels the recorder reads as context. Sessions and jobs set `session` / `job`; a workflow
 * step sets `repository`, `workflow`, `workflow_job` and `workflow_run` (its run id), and its
 * commands then form one chain per run, so `previous` and fixes follow the workflow's steps.
 */
export const CONTEXT_LABELS = [
  'repository',
  'workflow',
  'workflow_job',
  'workflow_run',
  'session',
  'job',
] as const;

/** Events waiting to be recorded; past this the oldest are dropped (and counted), never the exec. */
const MAX_QUEUED = 10_000;
/** Contexts whose previous command is remembered; the least recently used go first. */
const MAX_CHAINS = 10_000;

interface Chain {
  previous: string | null;
  /** The last failure not yet followed by a success: what the next success fixes. */
  failure?: { command: string; signature: string };
}

export interface CommandRecorderOptions {
  store: LearningStore;
  /** Called with the commands of each recorded batch (the validator learns them). */
  onRecorded?: (commands: readonly string[]) => void;
  onWarning?: (obj: object, msg: string) => void;
}

/** What the recorder subscribes to: the manager's event bus. */
export interface ExecEventSource {
  on<K extends keyof ManagerEvents>(event: K, listener: ManagerEvents[K]): () => void;
}

/**
 * Records every command the manager reports into the knowledge graph. The listener only queues the
 * event (constant time, cannot throw); normalizing and writing happen later, in batches, so
 * observing a command never slows it or fails it.
 */
export class CommandRecorder {
  readonly #o: CommandRecorderOptions;
  #queue: ExecFinishedEvent[] = [];
  readonly #chains = new Map<string, Chain>();
  #scheduled: NodeJS.Immediate | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #unsubscribe: Array<() => void> = [];
  #closed = false;
  /** Events dropped because the queue was full. */
  dropped = 0;

  constructor(o: CommandRecorderOptions) {
    this.#o = o;
  }

  /** Subscribes to `exec.finished` (and `sandbox.ended`, to forget a one-off sandbox's chain). */
  observe(events: ExecEventSource): void {
    this.#unsubscribe.push(
      events.on('exec.finished', (e) => this.record(e)),
      events.on('sandbox.ended', (e) => {
        this.#chains.delete(`sandbox:${e.sandboxId}`);
      }),
    );
  }

  /** Queues one finished exec; returns at once. */
  record(e: ExecFinishedEvent): void {
    if (this.#closed) return;
    if (this.#queue.length >= MAX_QUEUED) {
      this.#queue.shift();
      this.dropped++;
    }
    this.#queue.push(e);
    this.#scheduled ??= setImmediate(() => {
      this.#scheduled = undefined;
      void this.flush();
    });
  }

  /** Writes everything queued so far; resolves once it is in the store. Never rejects. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      const batch = this.#queue;
      this.#queue = [];
      if (!batch.length) return;
      const outcomes = batch.flatMap((e) => this.#outcomes(e));
      try {
        await this.#o.store.recordOutcomes(outcomes);
        this.#o.onRecorded?.([...new Set(outcomes.map((o) => o.command))]);
      } catch (err) {
        this.#o.onWarning?.({ err, outcomes: outcomes.length }, 'cannot record command outcomes; dropped');
      }
    });
    return this.#flushing;
  }

  /** Stops listening and writes what is queued. Idempotent. */
  async close(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) off();
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    this.#closed = true;
    await this.flush();
  }

  #chain(e: ExecFinishedEvent): Chain {
    const l = e.labels;
    const key = l.workflow_run
      ? `run:${l.workflow_run}`
      : l.session
        ? `session:${l.session}`
        : l.job
          ? `job:${l.job}`
          : `sandbox:${e.sandboxId}`;
    let chain = this.#chains.get(key);
    if (chain) this.#chains.delete(key);
    else chain = { previous: null };
    // Re-inserted last: the Map's order is the recency order the eviction uses.
    this.#chains.set(key, chain);
    if (this.#chains.size > MAX_CHAINS) {
      const oldest = this.#chains.keys().next().value;
      if (oldest !== undefined) this.#chains.delete(oldest);
    }
    return chain;
  }

  /**
   * One exec's outcomes. A script that succeeded counts a success for each of its commands; one
   * that failed counts the failure on its last command (whose status a shell returns), and the
   * commands before it only as the chain's `previous`, since which of them failed is not known.
   */
  #outcomes(e: ExecFinishedEvent): CommandOutcome[] {
    // A lost sandbox or interpreter code says nothing about a command.
    if (e.error || e.what.kind !== 'command') return [];
    const commands = 'argv' in e.what ? normalizeWords(e.what.argv) : normalizeScript(e.what.shell);
    if (!commands.length) return [];
    const chain = this.#chain(e);
    const context: Record<string, string> = { image: e.image, backend: e.backend };
    for (const k of CONTEXT_LABELS) {
      const v = e.labels[k];
      if (v !== undefined) context[k] = v;
    }
    const ok = e.exitCode === 0 && !e.timedOut;
    const atMs = e.startedAtMs + e.durationMs;
    const durationMs = e.durationMs / commands.length;
    const out: CommandOutcome[] = [];
    if (ok) {
      for (const command of commands) {
        const o: CommandOutcome = {
          command,
          previous: chain.previous,
          ok,
          durationMs,
          signature: null,
          context,
          atMs,
        };
        if (chain.failure && chain.failure.command !== command) o.fixed = chain.failure;
        if (chain.failure) chain.failure = undefined;
        out.push(o);
        chain.previous = command;
      }
      return out;
    }
    for (const command of commands.slice(0, -1)) chain.previous = command;
    const command = commands.at(-1) as string;
    const signature = errorSignature(e);
    out.push({ command, previous: chain.previous, ok, durationMs, signature, context, atMs });
    chain.previous = command;
    chain.failure ??= { command, signature };
    return out;
  }
}
