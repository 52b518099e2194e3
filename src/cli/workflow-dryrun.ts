/**
 * `hearth workflow run --dry-run`: the legs the planner would start, stage by stage (matrix expanded,
 * `--matrix` applied), and each leg's steps, without a sandbox. Every leg is taken to succeed, so
 * jobs that run only on failure show as skipped; a job's `if:` that reads needs outputs sees none.
 */
import type { Contexts, Value } from '../workflows/expressions.js';
import type { StepDefinition } from '../workflows/model.js';
import { legName, WorkflowPlan } from '../workflows/planner.js';
import { evaluateTemplate, toText } from '../workflows/template.js';
import { starLine } from './workflow-output.js';
import type { LoadedWorkflow } from './workflow-select.js';

export interface DryRunOptions {
  contexts: Contexts;
  matrixFilter?: Record<string, string[]>;
  print: (line: string) => void;
}

export async function dryRun(w: LoadedWorkflow, o: DryRunOptions): Promise<void> {
  const plan = new WorkflowPlan(w.workflow, {
    contexts: o.contexts,
    maxParallelLegs: Number.MAX_SAFE_INTEGER,
    ...(o.matrixFilter ? { matrixFilter: o.matrixFilter } : {}),
  });
  const label = w.workflow.name;
  for (let stage = 0; ; stage++) {
    const legs = await plan.next();
    if (legs.length === 0) break;
    for (const leg of legs) {
      const contexts: Contexts = {
        ...o.contexts,
        matrix: leg.matrix,
        strategy: leg.strategy,
        needs: leg.needs as unknown as Value,
      };
      const name = legName(leg, leg.job.name ? await text(leg.job.name, contexts) : undefined);
      const matrix = Object.keys(leg.matrix).length > 0 ? ` matrix=${JSON.stringify(leg.matrix)}` : '';
      o.print(`*DRYRUN* [${label}/${name}] 🚀  Stage ${stage}, job ${leg.key}${matrix}`);
      for (const step of leg.job.steps) {
        o.print(`*DRYRUN* [${label}/${name}] ${starLine(await stepLabel(step, contexts))}`);
      }
    }
    for (const leg of legs) plan.finished(leg.key, { result: 'success' });
  }
  for (const [id, state] of Object.entries(plan.jobs())) {
    if (state.result === 'skipped') o.print(`*DRYRUN* [${label}/${id}] skipped (its if: or --matrix)`);
    if (state.error) o.print(`*DRYRUN* [${label}/${id}] cannot be planned: ${state.error}`);
  }
}

async function text(
  template: NonNullable<StepDefinition['name']>,
  contexts: Contexts,
): Promise<string | undefined> {
  try {
    return toText(await evaluateTemplate(template, { contexts }));
  } catch {
    return undefined;
  }
}

/** The step's name as a run shows it (`Run <first script line>` without one); its id when not known yet. */
async function stepLabel(step: StepDefinition, contexts: Contexts): Promise<string> {
  const name = step.name ? await text(step.name, contexts) : undefined;
  if (name) return name;
  if (step.uses) return `Run ${step.uses}`;
  const script = step.run ? await text(step.run, contexts) : undefined;
  return `Run ${script?.split('\n')[0] ?? step.id}`;
}
