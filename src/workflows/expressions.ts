/**
 * Evaluation of GitHub Actions expressions with GitHub's own lexer, parser and evaluator
 * (@actions/expressions). What the library leaves to the runner lives here: the contexts, the status
 * functions, hashFiles() (asynchronous: it reads the workspace inside the sandbox) and the
 * `${{ }}` interpolation of strings.
 */
import { data, Evaluator, type Expr, Lexer, Parser } from '@actions/expressions';
import { HearthError } from '../errors/hearth-error.js';

/** The context names an expression may use. */
export const CONTEXT_NAMES = [
  'github',
  'env',
  'vars',
  'secrets',
  'matrix',
  'needs',
  'steps',
  'job',
  'jobs',
  'runner',
  'strategy',
  'inputs',
] as const;

/** Plain JSON-like values, as contexts are given and results returned. */
export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

export type Contexts = Partial<Record<(typeof CONTEXT_NAMES)[number], Value>>;

/** The job (for a step's `if:`) or the needed jobs (for a job's `if:`) as the status functions see them. */
export interface StatusCheck {
  /** `success()`: nothing before has failed and the run is not cancelled. */
  success: boolean;
  /** `failure()`: a previous step (or an ancestor job) failed. */
  failure: boolean;
  /** `cancelled()`: the run was cancelled. */
  cancelled: boolean;
}

/** Implemented by the executor against the workspace in the job's sandbox. */
export type HashFiles = (patterns: string[]) => Promise<string>;

export interface EvaluateOptions {
  contexts: Contexts;
  /** @default success, neither failed nor cancelled */
  status?: StatusCheck;
  /** Without it, hashFiles() is an evaluation error. */
  hashFiles?: HashFiles;
}

const STATUS_SUCCESS: StatusCheck = { success: true, failure: false, cancelled: false };
const EXTENSION_FUNCTIONS = [
  { name: 'success', minArgs: 0, maxArgs: 0 },
  { name: 'failure', minArgs: 0, maxArgs: 0 },
  { name: 'cancelled', minArgs: 0, maxArgs: 0 },
  { name: 'always', minArgs: 0, maxArgs: 0 },
  { name: 'hashFiles', minArgs: 1, maxArgs: 255 },
];
/** hashFiles() results can feed other hashFiles() arguments; past this the expression is refused. */
const MAX_HASH_ROUNDS = 4;

export function toData(value: Value | undefined): data.ExpressionData {
  return JSON.parse(JSON.stringify(value ?? null), data.reviver) as data.ExpressionData;
}

export function fromData(value: data.ExpressionData): Value {
  // NaN and Infinity have no JSON form; they come back as numbers, not null.
  if (value.kind === data.Kind.Number) return (value as data.NumberData).value;
  return JSON.parse(JSON.stringify(value, data.replacer)) as Value;
}

/** Parses an expression (without `${{ }}`), refusing unknown contexts and functions. */
export function parseExpression(expression: string): Expr {
  try {
    const { tokens } = new Lexer(expression).lex();
    // The lexer unescapes only the first '' of a string literal ('a''b''c' would keep one ''):
    // every '' in a literal stands for one quote.
    for (const t of tokens) {
      if (t.lexeme.length >= 2 && t.lexeme.startsWith("'"))
        t.value = t.lexeme.slice(1, -1).replaceAll("''", "'");
    }
    return new Parser(tokens, [...CONTEXT_NAMES], EXTENSION_FUNCTIONS).parse();
  } catch (err) {
    throw expressionError(expression, err);
  }
}

/** Evaluates one expression (without `${{ }}`) to a plain value. */
export async function evaluateExpression(expression: string, opts: EvaluateOptions): Promise<Value> {
  const tree = parseExpression(expression);
  // A context the caller did not give is null, as GitHub has `matrix` in a job without one.
  const contexts = new data.Dictionary(
    ...CONTEXT_NAMES.map((key) => ({ key, value: toData(opts.contexts[key]) })),
  );
  const hashes = new Map<string, string>();
  for (let round = 0; round <= MAX_HASH_ROUNDS; round++) {
    const missing = new Map<string, string[]>();
    const functions = runnerFunctions(opts.status ?? STATUS_SUCCESS, hashes, missing);
    let result: Value;
    try {
      result = fromData(new Evaluator(tree, contexts, functions).evaluate());
    } catch (err) {
      throw expressionError(expression, err);
    }
    if (missing.size === 0) return result;
    if (!opts.hashFiles) throw expressionError(expression, new Error('hashFiles() is not available here'));
    for (const [key, patterns] of missing) hashes.set(key, await opts.hashFiles(patterns));
  }
  throw expressionError(expression, new Error('hashFiles() nested too deeply'));
}

type FunctionMap = NonNullable<ConstructorParameters<typeof Evaluator>[2]>;
type FunctionDefinition = FunctionMap extends Map<string, infer F> ? F : never;

/** The functions GitHub leaves to the runner: the status functions and hashFiles(). */
function runnerFunctions(status: StatusCheck, hashes: Map<string, string>, missing: Map<string, string[]>) {
  const fixed = (name: string, value: boolean): FunctionDefinition => ({
    name,
    minArgs: 0,
    maxArgs: 0,
    call: () => new data.BooleanData(value),
  });
  const functions: FunctionMap = new Map([
    ['success', fixed('success', status.success && !status.cancelled)],
    ['failure', fixed('failure', status.failure && !status.cancelled)],
    ['cancelled', fixed('cancelled', status.cancelled)],
    ['always', fixed('always', true)],
    [
      'hashfiles',
      {
        name: 'hashFiles',
        minArgs: 1,
        maxArgs: 255,
        // The evaluator is synchronous: unknown hashes are collected, computed, and the expression
        // evaluated again with them known.
        call: (...args: data.ExpressionData[]) => {
          const patterns = args.map((a) => a.coerceString());
          const key = JSON.stringify(patterns);
          const known = hashes.get(key);
          if (known !== undefined) return new data.StringData(known);
          missing.set(key, patterns);
          return new data.StringData('');
        },
      },
    ],
  ]);
  return functions;
}

function expressionError(expression: string, err: unknown): HearthError {
  const reason = err instanceof Error ? err.message : String(err);
  return new HearthError('WORKFLOW_EXPRESSION', `expression \`${expression}\`: ${reason}`, { cause: err });
}
