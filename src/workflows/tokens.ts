/** Parser tokens → Templates (plain data, no parser classes past this file). */
import {
  isBasicExpression,
  isBoolean,
  isMapping,
  isNumber,
  isSequence,
  isString,
} from '@actions/workflow-parser';
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/template-token';
import { literal, type Template } from './template.js';

export function toTemplate(token: TemplateToken): Template {
  if (isString(token)) return literal(token.value);
  if (isNumber(token)) return literal(token.value);
  if (isBoolean(token)) return literal(token.value);
  if (isBasicExpression(token)) return { kind: 'expr', expr: token.expression };
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
