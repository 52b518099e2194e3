/**
 * The expressions conformance: every case of act's expression tests (conformance/act/expressions.tsv)
 * through hearth's evaluator. Agreement must stay at or above 95%, and every disagreement must be on
 * the list in test/conformance/workflow-expression-deviations.tsv, with its reason.
 */

import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONTEXT_NAMES,
  type Contexts,
  conditionExpression,
  evaluateCondition,
  evaluateExpression,
  evaluateString,
  hashFilesInDirectory,
  interpolation,
  type Value,
} from '../src/workflows/index.js';
import { ACT } from './act-corpus.js';

const DEVIATIONS = join(import.meta.dirname, 'conformance/workflow-expression-deviations.tsv');
const TARGET = 0.95;

interface Case {
  suite: string;
  name: string;
  mode: string;
  context: string;
  expression: string;
  type: string;
  json: string;
  error: string;
}

function readCases(): Case[] {
  const lines = readFileSync(join(ACT, 'expressions.tsv'), 'utf8').split('\n').slice(2);
  return lines
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [
        suite = '',
        name = '',
        mode = '',
        context = '',
        expression = '',
        type = '',
        json = '',
        error = '',
      ] = l.split('\t');
      return { suite, name, mode, context, expression, type, json, error };
    });
}

/** The key a deviation is listed under: suite, mode, context and expression identify a case. */
const keyOf = (c: Case) => [c.suite, c.mode, c.context, c.expression].join('\t');

function readDeviations(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(DEVIATIONS, 'utf8').split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const cols = line.split('\t');
    out.set(cols.slice(0, 4).join('\t'), cols[4] ?? '');
  }
  return out;
}

function parseExpected(c: Case): Value {
  if (c.json === 'NaN') return Number.NaN;
  if (c.json === 'Infinity') return Number.POSITIVE_INFINITY;
  return JSON.parse(c.json) as Value;
}

let workdir = '';
const contextsById = new Map<string, Contexts>();

beforeAll(async () => {
  workdir = await mkdtemp(join(tmpdir(), 'hearth-wf-expr-'));
  const raw = JSON.parse(readFileSync(join(ACT, 'expressions_contexts.json'), 'utf8')) as {
    contexts: Record<string, Record<string, unknown>>;
  };
  for (const [id, ctx] of Object.entries(raw.contexts)) {
    const contexts: Record<string, Value> = {};
    for (const name of CONTEXT_NAMES) if (name in ctx) contexts[name] = ctx[name] as Value;
    contextsById.set(id, contexts);
  }
  const files = raw.contexts.HASHFILES?.working_dir_files as Record<string, string>;
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(workdir, 'hashing', path)), { recursive: true });
    await writeFile(join(workdir, 'hashing', path), content);
  }
  await mkdir(join(workdir, 'empty'));
});
afterAll(async () => {
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

/** Runs one case the way act's test ran it; returns the value, or throws. */
async function run(c: Case): Promise<Value> {
  const contexts = contextsById.get(c.context) ?? {};
  const root = join(workdir, c.context === 'HASHFILES' ? 'hashing' : 'empty');
  const opts = { contexts, hashFiles: (patterns: string[]) => hashFilesInDirectory(root, patterns) };
  switch (c.mode) {
    case 'evaluate':
      return evaluateExpression(c.expression, opts);
    case 'interpolate':
      return evaluateString(interpolation(c.expression), opts);
    case 'evalbool':
      return evaluateCondition(conditionExpression(c.expression), opts);
    case 'act-internal-rewrite':
    case 'act-internal-rewrite-forceformat': {
      // act rewrites `${{ }}` strings into one expression before evaluating, as interpolation() does.
      const t = interpolation(c.expression);
      if (t.kind !== 'expr') return c.expression;
      const single = !t.expr.startsWith('format(');
      if (!single) return t.expr;
      return c.mode === 'act-internal-rewrite' ? c.expression : `format('{0}', ${t.expr})`;
    }
    default:
      throw new Error(`unknown mode ${c.mode}`);
  }
}

async function agrees(c: Case): Promise<{ ok: boolean; got: string }> {
  let got: Value;
  try {
    got = await run(c);
  } catch (err) {
    return { ok: c.error !== '', got: `error: ${(err as Error).message}` };
  }
  if (c.error !== '') return { ok: false, got: JSON.stringify(got) };
  const expected = parseExpected(c);
  const ok =
    typeof expected === 'number' && typeof got === 'number'
      ? Object.is(expected, got) || expected === got
      : JSON.stringify(expected) === JSON.stringify(got) && (c.type !== 'null' || got === null);
  return { ok, got: typeof got === 'number' ? String(got) : JSON.stringify(got) };
}

describe('expressions conformance with act', () => {
  it('agrees on at least 95% of the cases, and every disagreement is listed with its reason', async () => {
    const cases = readCases();
    expect(cases.length).toBe(592);
    const listed = readDeviations();
    const unlisted: string[] = [];
    const fixed: string[] = [];
    let agreed = 0;
    for (const c of cases) {
      const { ok, got } = await agrees(c);
      if (ok) agreed++;
      if (!ok && !listed.has(keyOf(c))) unlisted.push(`${keyOf(c)}\tgot ${got}, act ${c.error || c.json}`);
      if (ok && listed.has(keyOf(c))) fixed.push(keyOf(c));
    }
    const agreement = agreed / cases.length;
    console.log(`expressions: ${agreed}/${cases.length} agree (${(agreement * 100).toFixed(1)}%)`);
    expect(unlisted).toEqual([]);
    expect(fixed, 'listed as deviations but now agree: remove them from the list').toEqual([]);
    expect(agreement).toBeGreaterThanOrEqual(TARGET);
  });
});
