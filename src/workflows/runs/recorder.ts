/**
 * Writes a run's jobs, steps and step snapshots to the store as the executor reports them, so a
 * run that stops halfway (a crash) still shows how far it got. A record that cannot be written is a
 * warning: the run goes on.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkflowRunStore, WorkflowStepRow } from '../../store/workflow-run-store.js';
import type {
  ExecuteHooks,
  JobRunResult,
  StepRunResult,
  StepSnapshotter,
  StepState,
} from '../executor/types.js';

export interface RunRecorderOptions {
  store: WorkflowRunStore;
  runId: string;
  /** Where snapshot folders go: `<dir>/<snapshot id>`. */
  snapshotsDir: string;
  onWarning?: (msg: string) => void;
  /** Hides secrets in what is recorded (the run's SecretMask). @default nothing hidden */
  redact?: (text: string) => string;
}

/** A step's result as a row of `runId`. */
export function stepRow(
  runId: string,
  legKey: string,
  step: StepRunResult,
  extra: { state: StepState | null; snapshotId: string | null; startedAtMs: number | null },
  redact: (text: string) => string = (t) => t,
): WorkflowStepRow {
  const outputs = Object.fromEntries(Object.entries(step.outputs).map(([k, v]) => [k, redact(v)]));
  return {
    runId,
    legKey,
    index: step.index,
    stepId: step.id,
    name: step.name,
    outcome: step.outcome,
    conclusion: step.conclusion,
    exitCode: step.exitCode,
    startedAtMs: extra.startedAtMs,
    durationMs: step.durationMs,
    error: (step.error ?? step.warning) === undefined ? null : redact(step.error ?? step.warning ?? ''),
    log: redact(step.log),
    summary: redact(step.summary),
    advice: step.advice ?? null,
    outputs,
    snapshotId: extra.snapshotId,
    state: extra.state && redactState(extra.state, redact),
    carriedFrom: step.carriedFrom ?? null,
  };
}

/**
 * The state with secrets hidden: a variable whose value held one is kept as masked and named in
 * `redacted`, so a retry takes it from the job's env evaluated with the secrets given again.
 */
function redactState(
  state: StepState,
  redact: (text: string) => string,
): StepState & { redacted?: string[] } {
  const env: Record<string, string> = {};
  const redacted: string[] = [];
  for (const [k, v] of Object.entries(state.env)) {
    env[k] = redact(v);
    if (env[k] !== v) redacted.push(k);
  }
  const steps = JSON.parse(redact(JSON.stringify(state.steps))) as StepState['steps'];
  return {
    ...state,
    env,
    steps,
    ...(state.script !== undefined ? { script: redact(state.script) } : {}),
    ...(redacted.length > 0 ? { redacted } : {}),
  };
}

export class RunRecorder {
  readonly #o: RunRecorderOptions;
  readonly #jobStarts = new Map<string, { atMs: number; sandboxId: string }>();
  readonly #stepStarts = new Map<string, number>();

  constructor(o: RunRecorderOptions) {
    this.#o = o;
  }

  async #write(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.#o.onWarning?.(`cannot record the ${what} of run ${this.#o.runId}: ${(err as Error).message}`);
    }
  }

  readonly hooks: ExecuteHooks = {
    onJobStart: (e) => {
      const atMs = Date.now();
      this.#jobStarts.set(e.legKey, { atMs, sandboxId: e.sandboxId });
      return this.#write('job', () =>
        this.#o.store.upsertJob({
          runId: this.#o.runId,
          legKey: e.legKey,
          jobId: e.legKey.split('[')[0] ?? e.legKey,
          name: e.name,
          result: 'running',
          sandboxId: e.sandboxId,
          startedAtMs: atMs,
          durationMs: null,
          error: null,
          outputs: {},
        }),
      );
    },
    onStepStart: (e) => {
      this.#stepStarts.set(`${e.legKey}#${e.index}`, Date.now());
    },
    onStepEnd: (e) =>
      this.#write('step', () =>
        this.#o.store.upsertStep(
          stepRow(
            this.#o.runId,
            e.legKey,
            e.step,
            {
              state: e.state,
              snapshotId: e.snapshotId ?? null,
              startedAtMs: this.#stepStarts.get(`${e.legKey}#${e.step.index}`) ?? null,
            },
            this.#o.redact,
          ),
        ),
      ),
    onJobEnd: (job: JobRunResult) => {
      const started = this.#jobStarts.get(job.key);
      return this.#write('job', () =>
        this.#o.store.upsertJob({
          runId: this.#o.runId,
          legKey: job.key,
          jobId: job.jobId,
          name: job.name,
          result: job.result,
          sandboxId: job.sandboxId ?? started?.sandboxId ?? null,
          startedAtMs: started?.atMs ?? null,
          durationMs: job.durationMs,
          error: job.error === undefined ? null : (this.#o.redact?.(job.error) ?? job.error),
          outputs: Object.fromEntries(
            Object.entries(job.outputs).map(([k, v]) => [k, this.#o.redact?.(v) ?? v]),
          ),
        }),
      );
    },
  };

  readonly snapshotter: StepSnapshotter = {
    take: async ({ legKey, stepIndex, kind, save }) => {
      const id = `wfsnap-${randomUUID()}`;
      const dir = join(this.#o.snapshotsDir, id);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      try {
        const info = await save(dir);
        await this.#o.store.insertSnapshot({
          id,
          runId: this.#o.runId,
          legKey,
          stepIndex,
          kind,
          dir,
          info,
          sizeBytes: info.sizeBytes,
          createdAtMs: Date.parse(info.createdAt) || Date.now(),
        });
        return id;
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    },
  };
}
