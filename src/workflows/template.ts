/**
 * Workflow values that may hold expressions, kept as plain data until run time: the executor
 * evaluates them once the contexts (steps, needs, matrix…) are known.
 */
import { type EvaluateOptions, evaluateExpression, type Value } from './expressions.js';

export type Template =
  | { kind: 'literal'; value: null | boolean | number | string }
  | { kind: 'expr'; expr: string }
  | { kind: 'seq'; items: Template[] }
  | { kind: 'map'; entries: Array<{ key: Template; value: Template }> }
  /** A `${{ insert }}` mapping key: its value, a mapping, is merged into the parent. */
  | { kind: 'insert' };

export const literal = (value: null | boolean | number | string): Template => ({ kind: 'literal', value });

/**
 * Turns a string with `${{ }}` in it into one expression, as GitHub does: a lone `${{ x }}` is `x`
 * (keeping its type), text around it becomes `format('text {0}', x)`. Text without `${{` is literal.
 */
export function interpolation(text: string): Template {
  const parts: Array<{ text: string } | { expr: string }> = [];
  let at = 0;
  while (at < text.length) {
    const open = text.indexOf('${{', at);
    if (open < 0) break;
    const close = findClose(text, open + 3);
    if (close < 0) break;
    if (open > at) parts.push({ text: text.slice(at, open) });
    parts.push({ expr: text.slice(open + 3, close).trim() });
    at = close + 2;
  }
  if (parts.length === 0) return literal(text);
  if (at < text.length) parts.push({ text: text.slice(at) });
  const only = parts[0];
  if (parts.length === 1 && only && 'expr' in only) return { kind: 'expr', expr: only.expr };
  let format = '';
  const args: string[] = [];
  for (const part of parts) {
    if ('text' in part) format += part.text.replaceAll('{', '{{').replaceAll('}', '}}');
    else {
      format += `{${args.length}}`;
      args.push(part.expr);
    }
  }
  return { kind: 'expr', expr: `format('${format.replaceAll("'", "''")}', ${args.join(', ')})` };
}

/** The `}}` closing an expression, skipping those inside single-quoted strings. */
function findClose(text: string, from: number): number {
  let inString = false;
  for (let i = from; i < text.length - 1; i++) {
    const c = text[i];
    if (c === "'") inString = !inString;
    else if (!inString && c === '}' && text[i + 1] === '}') return i;
  }
  return -1;
}

/** Evaluates a template to a plain value. */
export interface TemplateOptions extends EvaluateOptions {
  /**
   * A list item that is an expression giving a list adds its items (as act does for matrix values).
   * @default false
   */
  spliceArrays?: boolean;
}

export async function evaluateTemplate(template: Template, opts: TemplateOptions): Promise<Value> {
  switch (template.kind) {
    case 'literal':
      return template.value;
    case 'expr':
      return evaluateExpression(template.expr, opts);
    case 'insert':
      return null;
    case 'seq': {
      const out: Value[] = [];
      for (const item of template.items) {
        const value = await evaluateTemplate(item, opts);
        if (opts.spliceArrays && item.kind === 'expr' && Array.isArray(value)) out.push(...value);
        else out.push(value);
      }
      return out;
    }
    case 'map': {
      const out: { [key: string]: Value } = {};
      for (const { key, value } of template.entries) {
        const v = await evaluateTemplate(value, opts);
        if (key.kind === 'insert') {
          if (v !== null && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, v);
          continue;
        }
        out[toText(await evaluateTemplate(key, opts))] = v;
      }
      return out;
    }
  }
}

/** Evaluates a template that must be a string (run:, env values, with: inputs), as GitHub coerces it. */
export async function evaluateString(template: Template, opts: EvaluateOptions): Promise<string> {
  return toText(await evaluateTemplate(template, opts));
}

/** GitHub's string coercion: null is empty, objects and arrays are their kind name. */
export function toText(value: Value): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return value === 0 ? '0' : String(+value.toFixed(15));
  return Array.isArray(value) ? 'Array' : 'Object';
}

/** The mapping of strings a template evaluates to (env:, with:, outputs:). */
export async function evaluateStringMap(
  template: Template | undefined,
  opts: EvaluateOptions,
): Promise<Record<string, string>> {
  if (!template) return {};
  const value = await evaluateTemplate(template, opts);
  const out: Record<string, string> = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) out[k] = toText(v);
  return out;
}
