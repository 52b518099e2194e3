/** One observed command: what the command knowledge graph is built from. */
export interface CommandOutcome {
  /** The normalized command (`git commit`). */
  command: string;
  /** The command before it in the same context; null for the first one. */
  previous: string | null;
  ok: boolean;
  durationMs: number;
  /** A failure's masked error line; null on success. */
  signature: string | null;
  /** On a success that followed a failure in the same context: the failure it fixed. */
  fixed?: { command: string; signature: string };
  /** Where it ran: image, session, job, repository, workflow … (labels of the exec). */
  context: Record<string, string>;
  atMs: number;
}

/** A node of the graph: one normalized command. */
export interface CommandNode {
  command: string;
  successes: number;
  failures: number;
  /** Total wall time of its successful runs (for the average of slow operations). */
  successDurationMs: number;
  lastSeenAtMs: number;
}

/** previous → command, successes and failures on the same edge. */
export interface CommandEdge {
  previous: string;
  command: string;
  successes: number;
  failures: number;
}

/** A failure signature of a command, how often it was seen and its most common fix. */
export interface FailureSignature {
  command: string;
  signature: string;
  count: number;
  fix: string | null;
  fixCount: number;
  lastSeenAtMs: number;
}

export interface LearningTotals {
  commands: number;
  edges: number;
  signatures: number;
  outcomes: number;
}

/**
 * The command knowledge graph as rows. Async, so a remote store can implement it; writes come in
 * batches (one transaction each) from the recorder, off the path of the commands it observes.
 */
export interface LearningStore {
  recordOutcomes(outcomes: readonly CommandOutcome[]): Promise<void>;
  getCommand(command: string): Promise<CommandNode | undefined>;
  /** Most seen first. */
  listCommands(opts: { limit: number }): Promise<CommandNode[]>;
  getEdge(previous: string, command: string): Promise<CommandEdge | undefined>;
  /** Commands adjacent to `command` in either direction, with how often; most often first. */
  coOccurring(command: string, opts: { limit: number }): Promise<Array<{ command: string; count: number }>>;
  /** Signatures seen at least `minCount` times (of one command, or of all), most seen first. */
  failureSignatures(opts: { minCount: number; command?: string; limit: number }): Promise<FailureSignature[]>;
  /** Commands that fixed a failure of `command`, most often first. */
  fixesOf(command: string): Promise<Array<{ command: string; count: number }>>;
  totals(): Promise<LearningTotals>;
}
