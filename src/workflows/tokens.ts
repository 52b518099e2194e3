/** Parser tokens → Templates (plain data, no parser classes past this file). */
import {
  isBasicExpression,
  isBoolean,
  isMapping,
  isNumber,
  isSequence,
  isString,
} from '@actions/workflow-parser';
import type { BasicExpressionToken } from '@actions/workflow-parser/templates/tokens/basic-expression-token';
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/template-token';
import { parse as parseYaml } from 'yaml';
import { interpolation, literal, type Template } from './template.js';

export function toTemplate(token: TemplateToken): Template {
  if (isString(token)) return literal(token.value);
  if (isNumber(token)) return literal(token.value);
  if (isBoolean(token)) return literal(token.value);
  if (isBasicExpression(token)) {
    const text = multiLineValue(token);
    return text === undefined ? { kind: 'expr', expr: token.expression } : interpolation(text);
  }
  if (isSequence(token)) {
    const items: Template[] = [];
    for (const item of token) items.push(toTemplate(item));
    return { kind: 'seq', items };
  }
  if (isMapping(token)) {
    const entries: Array<{ key: Template; value: Template }> = [];
    for (const pair of token) entries.push({ key: toTemplate(pair.key), value: toTemplate(pair.value) });
    return { kind: 'map', entries };
  }
  // What is left: null, and the `${{ insert }}` directive (an expression token that is not basic).
  return token.isExpression ? { kind: 'insert' } : literal(null);
}

/** The value of `key` in a mapping token, if the token is a mapping that has it. */
export function lookup(token: TemplateToken | undefined, key: string): TemplateToken | undefined {
  if (!token || !isMapping(token)) return undefined;
  for (const pair of token) if (isString(pair.key) && pair.key.value === key) return pair.value;
  return undefined;
}

export function templateAt(token: TemplateToken | undefined, key: string): Template | undefined {
  const value = lookup(token, key);
  return value ? toTemplate(value) : undefined;
}

/** A plain string field (uses:, a job id); undefined when absent or not a literal string. */
export function stringAt(token: TemplateToken | undefined, key: string): string | undefined {
  const value = lookup(token, key);
  return value && isString(value) ? value.value : undefined;
}

/**
 * The string a multi-line scalar with `${{ }}` in it stands for. The parser builds such expressions
 * from the scalar's YAML source (indentation, quotes and all, for its editor ranges), so the value
 * is read again here from that source; undefined for single-line scalars, which it gets right.
 */
export function multiLineValue(token: BasicExpressionToken): string | undefined {
  const range = token.range;
  if (token.source === undefined || !range || range.start.line === range.end.line) return undefined;
  const header = token.blockScalarHeader;
  try {
    const doc = parseYaml(header ? `v: ${header}\n${token.source}` : `v: ${token.source}`) as { v?: unknown };
    return typeof doc?.v === 'string' ? doc.v : undefined;
  } catch {
    return undefined;
  }
}
