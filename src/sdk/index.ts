/** hearth's TypeScript SDK: a typed client of the HTTP API. */

export type { LanguageInfo } from '../jobs/languages.js';
export type { JobPage, JobSummary, ResultSummary } from '../jobs/summary.js';
export type {
  Job,
  JobErrorInfo,
  JobFile,
  JobLimits,
  JobRequest,
  JobResult,
  JobStatus,
  StepResult,
} from '../jobs/types.js';
export {
  Hearth,
  HearthApiError,
  type HearthOptions,
  type JobListQuery,
  type JobStreamEvent,
} from './client.js';
