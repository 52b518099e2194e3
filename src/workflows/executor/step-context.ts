/**
 * What a step runs with and what it leaves behind for the steps after it: shared by `run:` steps,
 * the actions they use, and the steps of composite actions.
 */
import type { ManagedSandbox } from '../../sandboxes/managed-sandbox.js';
import type { Contexts, HashFiles } from '../expressions.js';
import type { RunDefaults, StepDefinition } from '../model.js';
import type { ActionDefinition } from './action-file.js';
import type { WorkflowCommands } from './commands.js';
import type { StepLog } from './log-lines.js';
import type { SecretMask } from './mask.js';
import type { LogStream, StepAdvice, StepRunResult, StepStatus } from './types.js';

export interface StepContext {
  sandbox: ManagedSandbox;
  /** The leg's private directory in the sandbox for scripts and runner files. */
  tempDir: string;
  contexts: Contexts;
  hashFiles: HashFiles;
  /** The env the step sees before its own `env:` (workflow, job, GITHUB_ENV), evaluated. */
  env: Record<string, string>;
  /** Directories added by GITHUB_PATH, newest first. */
  path: string[];
  defaults: RunDefaults;
  workspace: string;
  labels: Record<string, string>;
  /** The most the step may run, from its timeout-minutes and the job's time left. */
  timeoutMs: number;
  maxLogBytes: number;
  onLine: (stream: LogStream, line: string) => void;
  /** Hides the run's secrets and `::add-mask::` values from the step's log (live and kept). */
  mask?: SecretMask;
  signal: AbortSignal;
  /** Asked with a `run:` step's script, as evaluated, before it runs: the knowledge graph's advice. */
  advise?: (script: string) => Promise<StepAdvice | undefined>;
  /**
   * Where remote actions (`owner/repo@ref`) are looked up on the host.
   * @default process.env.HEARTH_ACTIONS_DIR
   */
  actionsDir?: string;
  /** How many actions this step runs inside of (0 for a job's own step). @default 0 */
  actionDepth?: number;
}

export interface StepEffects {
  env: Record<string, string>;
  /** GITHUB_PATH entries in the order written (the oldest first). */
  path: string[];
  state: Record<string, string>;
  /** Where the step ran and what (a `run:` step's script as evaluated), for a shell opened at it later. */
  workingDirectory?: string;
  script?: string;
}

export interface StepRun {
  result: Omit<StepRunResult, 'conclusion'>;
  effects: StepEffects;
}

/** runStep's signature, handed to composite actions (which run steps) so the modules form no cycle. */
export type RunStep = (step: StepDefinition, name: string, ctx: StepContext) => Promise<StepRun>;

/** What a `uses:` step comes to. */
export interface UsesOutcome {
  outcome: Exclude<StepStatus, 'skipped'>;
  outputs: Record<string, string>;
  effects: StepEffects;
  exitCode?: number | null;
  timedOut?: boolean;
  summary?: string;
  error?: string;
}

export interface UsesRun {
  step: StepDefinition;
  ctx: StepContext;
  /** The step's env, its own `env:` included. */
  env: Record<string, string>;
  log: StepLog;
  commands: WorkflowCommands;
  runStep: RunStep;
}

/** What composite.ts and node-action.ts get: the action read and its inputs resolved. */
export interface ActionRun extends UsesRun {
  uses: string;
  def: ActionDefinition;
  /** The action's folder in the sandbox (GITHUB_ACTION_PATH). */
  actionDir: string;
  inputs: Record<string, string>;
}
