/**
 * What `hearth workflow run` prints, as act prints it: live lines prefixed `[<workflow>/<job>]`, the
 * step's start (⭐) and end (✅/❌ with its duration), its output as `| line` (stderr lines to
 * stderr); then a summary table with the knowledge graph's prediction and, for a failed step, its
 * top lesson. Everything goes through the run's mask first: no secret reaches the terminal.
 */
import type {
  LogStream,
  RunEvent,
  SecretMask,
  StepRunResult,
  WorkflowRunResult,
} from '../workflows/index.js';
import { formatTable } from './workflow-select.js';

/** A summary cell longer than this is cut (a step named after a long script line). */
const MAX_CELL_CHARS = 60;

export interface Outputs {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const processOutputs: Outputs = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

/** Seconds with two decimals, as act shows step times. */
export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

/** A step's start as act shows it: `⭐ Run <step>` (an unnamed step's name already says `Run …`). */
export const starLine = (step: string) => `⭐ ${step.startsWith('Run ') ? step : `Run ${step}`}`;

/** The live view of one workflow's run. With `json`, everything goes to stderr: stdout holds the document. */
export class LivePrinter {
  readonly #names = new Map<string, string>();
  readonly #workflow: string;
  readonly #mask: SecretMask;
  readonly #out: Outputs;
  readonly #json: boolean;

  constructor(o: { workflow: string; mask: SecretMask; out: Outputs; json: boolean }) {
    this.#workflow = o.workflow;
    this.#mask = o.mask;
    this.#out = o.out;
    this.#json = o.json;
  }

  readonly onLog = (job: string, _step: string, stream: LogStream, line: string): void => {
    this.#print(stream, job, `  | ${line}`);
  };

  readonly onEvent = (e: RunEvent): void => {
    if (e.type === 'job-start') {
      this.#names.set(e.job, e.name);
      this.#print('stderr', e.job, '🚀  Start (preparing its sandbox)');
    } else if (e.type === 'step-start') {
      this.#print('stdout', e.job, starLine(e.step));
    } else if (e.type === 'step-end') this.#stepEnd(e.job, e.step);
    else {
      const j = e.job;
      const why = j.error ? `: ${j.error}` : '';
      const word = { success: 'succeeded', failure: 'failed', cancelled: 'cancelled', skipped: 'skipped' };
      const icon = `🏁  Job ${word[j.result]}${why}`;
      this.#print(j.result === 'success' ? 'stdout' : 'stderr', j.key, icon);
    }
  };

  #stepEnd(job: string, s: StepRunResult): void {
    if (s.outcome === 'skipped') return;
    const time = ` [${seconds(s.durationMs)}]`;
    if (s.outcome === 'success') this.#print('stdout', job, `  ✅  Success - ${s.name}${time}`);
    else if (s.outcome === 'cancelled') this.#print('stdout', job, `  🚫  Cancelled - ${s.name}${time}`);
    else {
      const more = s.conclusion === 'success' ? ' (continue-on-error)' : '';
      const code = s.exitCode !== null ? ` (exit code ${s.exitCode})` : '';
      this.#print('stdout', job, `  ❌  Failure - ${s.name}${code}${time}${more}`);
    }
  }

  #print(stream: LogStream, job: string, text: string): void {
    const line = this.#mask.apply(`[${this.#workflow}/${this.#names.get(job) ?? job}] ${text}\n`);
    (stream === 'stderr' || this.#json ? this.#out.stderr : this.#out.stdout)(line);
  }
}

/** One workflow's run as the CLI reports it. */
export interface RunReport {
  file: string;
  event: string;
  run: WorkflowRunResult;
}

/** The summary table: one row per step (a job without steps gets one row with its error). */
export function summaryText(reports: RunReport[], o: { advice: boolean; mask: SecretMask }): string {
  let text = '';
  for (const { file, run } of reports) {
    const head = ['JOB', 'STEP', 'RESULT', 'DURATION'];
    const rows: string[][] = [o.advice ? [...head, 'PREDICTED', 'LESSON'] : head];
    for (const job of run.jobs) {
      if (job.steps.length === 0) {
        const row = [job.name, '-', job.result, seconds(job.durationMs)];
        rows.push(o.advice ? [...row, '', ''] : row);
      }
      for (const s of job.steps) {
        const row = [job.name, s.name, resultOf(s), seconds(s.durationMs)];
        rows.push(o.advice ? [...row, predicted(s), lesson(s)] : row);
      }
    }
    // Masked cell by cell, before the columns are measured.
    text += o.mask.apply(`\n${run.workflow} (${file}): ${run.result} in ${seconds(run.durationMs)}\n`);
    text += formatTable(rows.map((r) => r.map((c) => cell(o.mask.apply(c)))));
    for (const job of run.jobs) if (job.error) text += o.mask.apply(`${job.name}: ${job.error}\n`);
  }
  return text;
}

function resultOf(s: StepRunResult): string {
  if (s.outcome === 'failure' && s.conclusion === 'success') return 'failure (continued)';
  return s.outcome;
}

function predicted(s: StepRunResult): string {
  if (!s.advice) return '';
  return `${Math.round(s.advice.probability * 100)}% (${s.advice.evidence} seen)`;
}

/** The most confident lesson of a failed step, with its fix when one is known. */
function lesson(s: StepRunResult): string {
  if (s.outcome !== 'failure' || !s.advice) return '';
  const top = [...s.advice.lessons].sort((a, b) => b.confidence - a.confidence)[0];
  if (!top) return '';
  return top.fix ? `${top.signature} (fix: ${top.fix})` : top.signature;
}

function cell(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX_CELL_CHARS ? `${line.slice(0, MAX_CELL_CHARS - 1)}…` : line;
}

/** `--json`: one document with every run, its jobs and steps (logs and advice included), masked. */
export function jsonDocument(reports: RunReport[], mask: SecretMask): string {
  const doc = {
    result: reports.every((r) => r.run.result === 'success') ? 'success' : 'failure',
    runs: reports.map(({ file, event, run }) => ({ file, event, ...run })),
  };
  return `${JSON.stringify(mask.applyDeep(doc), null, 2)}\n`;
}
