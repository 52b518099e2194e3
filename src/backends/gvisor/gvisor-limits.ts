import { HearthError } from '../../errors/hearth-error.js';

/**
 * Whole-sandbox limits for gVisor, from the host. Every guest process lives in the sentry (its
 * memory in the sentry's memory file), so a per-process rlimit inside cannot bound the sum: 8
 * processes of 200 MB each pass a 256 MB RLIMIT_AS. The host cgroup that holds runsc's processes
 * (sentry, gofer) can (driven by backends/shared/exec-memory.ts):
 * - while an exec runs, the cgroup's memory limit is that exec's `memoryMb` (else the sandbox's)
 *   plus the sentry's own overhead, so a sandbox made for the largest job still holds each job
 *   to its own limit;
 * - when the host's OOM killer fires in that cgroup (it kills the sentry, so the agent's stream
 *   ends), the exec resolves as `outOfMemory` with SIGKILL instead of failing as SANDBOX_LOST.
 */

/**
 * Memory the sentry, gofer and agent use besides the guest's programs. Measured at rest: ≈20 MB
 * (runsc 20221219, ptrace platform, Node agent); the rest is room for the sentry's per-process
 * kernel state while a program forks.
 */
export const SENTRY_OVERHEAD_MB = 64;

/**
 * Guest tasks of the sandbox uid that are not the user's: the agent's Node threads, the exec
 * server, the exec's own shim. gVisor counts RLIMIT_NPROC over every task of the uid, so without
 * this a job of `maxProcesses: 20` could start only 10 (measured: the agent side held 9), and a
 * busier agent (libuv's pool grows by 4 threads on first file work) even fewer. Added to the
 * container's hard limit; each exec's own limit gets the agent's measured count from the agent
 * itself (guest/shim-report.ts), which stays under this allowance.
 */
export const AGENT_TASKS = 16;

/** A SANDBOX_START_FAILED for a host without usable cgroups (gVisor's limits need them). */
export function noCgroups(reason: string): HearthError {
  return new HearthError(
    'SANDBOX_START_FAILED',
    `gVisor sandboxes need host cgroups for their memory and process limits: ${reason}`,
  );
}
