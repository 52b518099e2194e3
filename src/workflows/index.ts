/**
 * The workflow model: parsing (GitHub's parser), expressions (GitHub's evaluator with hearth's
 * contexts and functions), the matrix, the planner, shell commands, and the executor that runs a
 * workflow's jobs in sandboxes.
 */
export { conditionExpression, evaluateCondition, truthy } from './conditions.js';
export {
  type ExecuteOptions,
  executeWorkflow,
  type JobRunResult,
  type LogStream,
  MASK,
  type RunEvent,
  SecretMask,
  type StepAdvice,
  type StepRunResult,
  type StepStatus,
  type WorkflowRunResult,
} from './executor/index.js';
export {
  CONTEXT_NAMES,
  type Contexts,
  type EvaluateOptions,
  evaluateExpression,
  type HashFiles,
  type StatusCheck,
  type Value,
} from './expressions.js';
export { checkGraph, type GraphProblem } from './graph.js';
export { digestFiles, hashFilesInDirectory, selectFiles } from './hash-files.js';
export { expandMatrix, expandStrategy, MAX_MATRIX_LEGS, type MatrixValues, type Strategy } from './matrix.js';
export type { JobDefinition, RunDefaults, StepDefinition, Workflow } from './model.js';
export { parseWorkflow, type WorkflowProblem, type WorkflowSource } from './parse.js';
export {
  type JobResult,
  type JobState,
  type Leg,
  type LegOutcome,
  type LegResult,
  legName,
  type PlanOptions,
  WorkflowPlan,
} from './planner.js';
export { type ShellCommand, shellArgv, shellCommand } from './shells.js';
export {
  evaluateString,
  evaluateStringMap,
  evaluateTemplate,
  interpolation,
  type Template,
  toText,
} from './template.js';
