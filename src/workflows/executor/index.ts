/** Runs parsed workflows: one sandbox per job leg, through the SandboxManager. */
export { MASK, SecretMask } from './mask.js';
export { executeWorkflow } from './run.js';
export type {
  ExecuteOptions,
  JobRunResult,
  LogStream,
  RunEvent,
  StepAdvice,
  StepRunResult,
  StepStatus,
  WorkflowRunResult,
} from './types.js';
