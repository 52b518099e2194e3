/**
 * hearth's TypeScript SDK: a typed client of the HTTP API. Its request and response types are the
 * server's own schemas (src/api); it loads neither the server nor the store.
 */

export type {
  CommandList as LearnedCommands,
  LessonList,
  Prediction,
  RelatedList,
  ValidationResult as ServerValidationResult,
} from '../api/learning.js';
export type {
  CodeContext,
  CodeLanguage,
  CodeRequest,
  CodeResult,
  CommandRequest,
  CommandResult,
  ContextCreateRequest,
  FileEntry,
  ForkRequest,
  Session,
  SessionCreateRequest,
  SessionState,
  Snapshot,
  SnapshotCreateRequest,
  SnapshotKind,
} from '../api/sessions.js';
export type { OutputHandlers, SessionFilter, SessionsApi } from '../api/sessions-api.js';
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
export { Hearth, type HearthOptions, type JobListQuery, type JobStreamEvent } from './client.js';
export { CommandExitError, CommandHandle, type CommandRunOptions, Commands } from './commands.js';
export {
  AuthenticationError,
  ContextError,
  HearthApiError,
  InvalidArgumentError,
  NotFoundError,
  RateLimitError,
  SandboxDeadError,
  SnapshotError,
  TimeoutError,
} from './errors.js';
export { Execution, type ExecutionError, type Logs, Result } from './execution.js';
export {
  type EnvironmentCapability,
  type ExecutionContext,
  ExecutionEnvironment,
  type ExecutionEnvironmentOptions,
  type ExecutionResult,
  type HealthStatus,
  type Strictness,
  type ValidationResult,
} from './execution-environment.js';
export { Files } from './files.js';
export type { ConnectionOptions } from './http.js';
export { InteractiveCommand, type InteractiveOptions } from './interactive.js';
export { LearningClient } from './learning-client.js';
export {
  type RunCodeOptions,
  Sandbox,
  type SandboxConnectOptions,
  type SandboxCreateOptions,
} from './sandbox.js';
export { SessionsClient } from './sessions-client.js';
