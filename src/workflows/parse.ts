/**
 * Parsing with GitHub's @actions/workflow-parser: its schema validation and conversion find the
 * errors (reported with file, line and column); the model is then read from its token tree.
 */
import {
  convertWorkflowTemplate,
  isBasicExpression,
  isSequence,
  NoOperationTraceWriter,
  parseWorkflow as parseWithSchema,
} from '@actions/workflow-parser';
import type { WorkflowJob } from '@actions/workflow-parser/model/workflow-template';
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/template-token';
import { HearthError } from '../errors/hearth-error.js';
import { conditionExpression } from './conditions.js';
import { checkGraph } from './graph.js';
import type { JobDefinition, RunDefaults, StepDefinition, Workflow } from './model.js';
import { lookup, multiLineValue, stringAt, templateAt } from './tokens.js';

export interface WorkflowSource {
  /** The path shown in errors, e.g. `.github/workflows/ci.yml`. */
  file: string;
  content: string;
}

export interface WorkflowProblem {
  file: string;
  line?: number;
  column?: number;
  message: string;
}

/** Parses and validates a workflow; throws WORKFLOW_INVALID listing every problem found. */
export async function parseWorkflow(source: WorkflowSource): Promise<Workflow> {
  // The parser keeps the \r of CRLF files inside block scalars (`|-` around a lone `${{ }}` becomes a
  // string); YAML means the same by either line ending, and line numbers do not change.
  const content = source.content.replace(/\r\n?/g, '\n');
  const parsed = parseWithSchema({ name: source.file, content }, new NoOperationTraceWriter());
  const root = parsed.value;
  const problems = collect(source.file, parsed.context.errors.getErrors());
  if (!root) {
    if (problems.length === 0) problems.push({ file: source.file, message: 'the workflow is empty' });
    throw invalid(source.file, problems);
  }
  if (problems.length > 0) throw invalid(source.file, problems);
  const converted = await convertWorkflowTemplate(parsed.context, root);
  problems.push(...collect(source.file, parsed.context.errors.getErrors()));
  // The converter names unknown needs only when some job has none; hearth always names them.
  const jobs = converted.jobs ?? [];
  for (const p of checkGraph(
    jobs.map((j) => ({ id: j.id.value, needs: (j.needs ?? []).map((n) => n.value) })),
  )) {
    const token = jobs.find((j) => j.id.value === p.job)?.needs?.find((n) => n.value === p.need);
    const reported = problems.some((q) => q.line === token?.line && q.column === token?.col);
    if (p.kind === 'unknown' && reported) continue;
    problems.push({ file: source.file, line: token?.line, column: token?.col, message: p.message });
  }
  if (problems.length > 0) throw invalid(source.file, dedupe(problems));
  const rawJobs = lookup(root, 'jobs');
  return {
    file: source.file,
    name: stringAt(root, 'name') ?? source.file,
    on: JSON.parse(JSON.stringify(converted.events ?? {})) as Record<string, unknown>,
    env: templateAt(root, 'env'),
    defaults: runDefaults(root),
    jobs: jobs.map((job) => toJob(job, lookup(rawJobs, job.id.value))),
  };
}

function toJob(job: WorkflowJob, raw: TemplateToken | undefined): JobDefinition {
  const common = {
    id: job.id.value,
    name: templateAt(raw, 'name'),
    needs: (job.needs ?? []).map((n) => n.value),
    if: condition(lookup(raw, 'if'), job.if.expression),
    strategy: templateAt(raw, 'strategy'),
    timeoutMinutes: templateAt(raw, 'timeout-minutes'),
    continueOnError: templateAt(raw, 'continue-on-error'),
    outputs: templateAt(raw, 'outputs'),
    runsOn: templateAt(raw, 'runs-on'),
    env: templateAt(raw, 'env'),
    defaults: runDefaults(raw),
    container: templateAt(raw, 'container'),
    services: templateAt(raw, 'services'),
  };
  if (job.type === 'reusableWorkflowJob') {
    return { ...common, uses: job.ref.value, with: templateAt(raw, 'with'), steps: [] };
  }
  const rawSteps = lookup(raw, 'steps');
  const steps: StepDefinition[] = job.steps.map((step, index) => {
    const rawStep = stepAt(rawSteps, index);
    const userId = stringAt(rawStep, 'id');
    return {
      index,
      id: step.id,
      hasUserId: userId !== undefined,
      name: templateAt(rawStep, 'name'),
      if: condition(lookup(rawStep, 'if'), 'if' in step && step.if ? step.if.expression : 'success()'),
      run: templateAt(rawStep, 'run'),
      uses: stringAt(rawStep, 'uses'),
      with: templateAt(rawStep, 'with'),
      shell: templateAt(rawStep, 'shell'),
      workingDirectory: templateAt(rawStep, 'working-directory'),
      env: templateAt(rawStep, 'env'),
      continueOnError: templateAt(rawStep, 'continue-on-error'),
      timeoutMinutes: templateAt(rawStep, 'timeout-minutes'),
    };
  });
  return { ...common, steps };
}

function stepAt(steps: TemplateToken | undefined, index: number): TemplateToken | undefined {
  return steps && isSequence(steps) && index < steps.count ? steps.get(index) : undefined;
}

/** The parser's `if:` expression, unless it was a multi-line scalar it read from the YAML source. */
function condition(raw: TemplateToken | undefined, converted: string): string {
  const text = raw && isBasicExpression(raw) ? multiLineValue(raw) : undefined;
  return text === undefined ? converted : conditionExpression(text);
}

function runDefaults(token: TemplateToken | undefined): RunDefaults {
  const run = lookup(lookup(token, 'defaults'), 'run');
  return { shell: templateAt(run, 'shell'), workingDirectory: templateAt(run, 'working-directory') };
}

function collect(
  file: string,
  errors: ReadonlyArray<{
    rawMessage: string;
    message: string;
    range?: { start: { line: number; column: number } };
  }>,
): WorkflowProblem[] {
  return errors.map((e) => ({
    file,
    line: e.range?.start.line,
    column: e.range?.start.column,
    message: e.rawMessage,
  }));
}

function dedupe(problems: WorkflowProblem[]): WorkflowProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line}:${p.column}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function invalid(file: string, problems: WorkflowProblem[]): HearthError {
  const lines = problems.map((p) =>
    p.line === undefined
      ? `${p.file}: ${p.message}`
      : `${p.file} (Line: ${p.line}, Col: ${p.column}): ${p.message}`,
  );
  return new HearthError('WORKFLOW_INVALID', `workflow ${file} is invalid:\n${lines.join('\n')}`, {
    details: { errors: problems },
  });
}
