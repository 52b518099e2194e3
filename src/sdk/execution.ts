/**
 * A code run in the shape users of E2B's code interpreter know: `results` (rich values of the last
 * expression), `logs` (stdout and stderr as the chunks that came), `error` and `executionCount`,
 * mapped from the API's CodeResult.
 */
import type { CodeResult } from '../api/sessions.js';

/** One value the code produced, with each format it came in. */
export class Result {
  /** The value as text: `repr` in Python, `util.inspect` in JavaScript. */
  readonly text: string | undefined;
  readonly html: string | undefined;
  /** base64 of the PNG bytes (a matplotlib figure). */
  readonly png: string | undefined;
  /** The value as parsed JSON, when it came as JSON. */
  readonly json: unknown;
  /** The last expression's value (E2B's name: there is one per run here). */
  readonly isMainResult: boolean;

  constructor(r: NonNullable<CodeResult['result']>, isMainResult = true) {
    const f = r.formats;
    this.text = f['text/plain'] ?? r.text;
    this.html = f['text/html'];
    this.png = f['image/png'];
    this.json = parseJson(f['application/json']);
    this.isMainResult = isMainResult;
  }

  /** The formats it has besides text: `html`, `png`, `json`. */
  formats(): string[] {
    return (['html', 'png', 'json'] as const).filter((k) => this[k] !== undefined);
  }

  toJSON(): Record<string, unknown> {
    return {
      text: this.text,
      html: this.html,
      png: this.png,
      json: this.json,
      isMainResult: this.isMainResult,
    };
  }
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface ExecutionError {
  name: string;
  value: string;
  traceback: string;
}

export interface Logs {
  stdout: string[];
  stderr: string[];
}

/** The outcome of `sandbox.runCode`. */
export class Execution {
  readonly results: Result[];
  readonly logs: Logs;
  /** The exception the code raised, or why the interpreter is gone; undefined when it ran clean. */
  readonly error: ExecutionError | undefined;
  readonly executionCount: number;
  /** The context it ran in. */
  readonly context: string;
  readonly outputTruncated: boolean;
  readonly wallTimeMs: number;

  constructor(r: CodeResult, logs?: Logs) {
    this.results = r.result ? [new Result(r.result)] : [];
    this.logs = logs ?? { stdout: r.stdout ? [r.stdout] : [], stderr: r.stderr ? [r.stderr] : [] };
    this.error =
      r.error ??
      (r.contextLost
        ? {
            name: 'ContextLostError',
            value: 'the interpreter is gone with its variables; restart or delete the context',
            traceback: '',
          }
        : undefined);
    this.executionCount = r.executionCount;
    this.context = r.context;
    this.outputTruncated = r.outputTruncated;
    this.wallTimeMs = r.wallTimeMs;
  }

  /** The main result's text, as E2B's `execution.text`. */
  get text(): string | undefined {
    return this.results.find((r) => r.isMainResult)?.text;
  }

  toJSON(): Record<string, unknown> {
    return {
      results: this.results.map((r) => r.toJSON()),
      logs: this.logs,
      error: this.error ?? null,
      executionCount: this.executionCount,
    };
  }
}
