/**
 * `if:` conditions. As on GitHub, `if:` is an expression with or without `${{ }}`, and one that
 * calls no status function means `success() && (…)`.
 */
import { type EvaluateOptions, evaluateExpression, type Value } from './expressions.js';
import { interpolation } from './template.js';

const STATUS_CALL = /\b(success|failure|always|cancelled)\s*\(/i;

/** The expression an `if:` value stands for, status function included. */
export function conditionExpression(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return 'success()';
  const template = interpolation(trimmed);
  const expr = template.kind === 'expr' ? template.expr : trimmed;
  // String literals are blanked so a quoted 'success()' does not count as a call.
  return STATUS_CALL.test(expr.replace(/'(?:[^']|'')*'/g, "''")) ? expr : `success() && (${expr})`;
}

/** GitHub's truthiness: false, 0, '', null and NaN are false; everything else, objects included, true. */
export function truthy(value: Value): boolean {
  if (value === null || value === false || value === '' || value === 0) return false;
  return !(typeof value === 'number' && Number.isNaN(value));
}

/** Evaluates an `if:` expression (as returned by conditionExpression) to a boolean. */
export async function evaluateCondition(expr: string, opts: EvaluateOptions): Promise<boolean> {
  return truthy(await evaluateExpression(expr, opts));
}
