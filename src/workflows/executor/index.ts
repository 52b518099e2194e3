/** Runs parsed workflows: one sandbox per job leg, through the SandboxManager. */
export { executeWorkflow } from './run.js';
export type {
  ExecuteOptions,
  JobRunResult,
  LogStream,
  StepRunResult,
  StepStatus,
  WorkflowRunResult,
} from './types.js';
