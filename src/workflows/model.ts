/**
 * The plain data an executor runs a workflow from. Fields that may hold expressions are Templates,
 * evaluated at run time (src/workflows/template.ts); `if:` fields are expressions that already
 * include their status function (src/workflows/conditions.ts).
 */
import type { Template } from './template.js';

export interface Workflow {
  /** The file name given to the parser (used in error messages). */
  file: string;
  /** `name:`, or the file name. */
  name: string;
  /** `on:` as the parser converts it: event name → its filters (branches, paths, types, inputs…). */
  on: Record<string, unknown>;
  env: Template | undefined;
  defaults: RunDefaults;
  /** In the order of the file. */
  jobs: JobDefinition[];
}

/** `defaults.run`. */
export interface RunDefaults {
  shell?: Template;
  workingDirectory?: Template;
}

export interface JobDefinition {
  id: string;
  /** `name:` (may use matrix); undefined means the id. */
  name: Template | undefined;
  needs: string[];
  /** The `if:` expression; `success()` when absent. */
  if: string;
  runsOn: Template | undefined;
  env: Template | undefined;
  defaults: RunDefaults;
  /** `strategy:` (matrix, fail-fast, max-parallel), evaluated once the job's needs are done. */
  strategy: Template | undefined;
  timeoutMinutes: Template | undefined;
  continueOnError: Template | undefined;
  /** `outputs:`, evaluated after the job's last step with its steps context. */
  outputs: Template | undefined;
  /** `container:` and `services:` are kept for the executor to refuse or honour. */
  container: Template | undefined;
  services: Template | undefined;
  /** A reusable workflow (`jobs.<id>.uses`); such a job has no steps. */
  uses?: string;
  with?: Template;
  steps: StepDefinition[];
}

export interface StepDefinition {
  /** 0-based position in the job. */
  index: number;
  /** The `id:`, or a generated one (`__run`, `__actions_checkout`…) that the steps context hides. */
  id: string;
  /** True when `id:` was written in the workflow. */
  hasUserId: boolean;
  name: Template | undefined;
  /** The `if:` expression; `success()` when absent. */
  if: string;
  run?: Template;
  uses?: string;
  with?: Template;
  shell?: Template;
  workingDirectory?: Template;
  env?: Template;
  continueOnError?: Template;
  timeoutMinutes?: Template;
}
