/**
 * hearth as a library: the sandbox backends behind one port, the guest agent's client, the job
 * service and its server, and the HTTP SDK. Everything a program outside this package may use is
 * named here; nothing else is public.
 */

export type { ExecHandle, RunRequest, RunResult } from './agent/client.js';
export { AgentClient } from './agent/client.js';
export type { ExecExit, ExecLimits, ExecRequest, FileStat, HelloInfo } from './agent/protocol.js';
export { PROTOCOL_VERSION } from './agent/protocol.js';
export type {
  BackendName,
  Capability,
  OneShotRequest,
  OneShotStepResult,
  Probe,
  Sandbox,
  SandboxBackend,
  SandboxSpec,
} from './backends/backend.js';
export { BACKEND_NAMES } from './backends/backend.js';
export { type BackendOptions, loadBackend, probeAll } from './backends/registry.js';
export { ERROR_CODES, ERROR_HINTS, ERROR_STATUS, type ErrorCode } from './errors/codes.js';
export { HearthError } from './errors/hearth-error.js';
export { buildImage } from './images/builder.js';
export { loadCatalog, resolveLanguage } from './images/catalog.js';
export { JobService, type JobServiceOptions } from './jobs/service.js';
export {
  Hearth,
  HearthApiError,
  type HearthOptions,
  type Job,
  type JobRequest,
  type JobResult,
  type JobStatus,
} from './sdk/index.js';
export { startServer } from './server/start.js';
