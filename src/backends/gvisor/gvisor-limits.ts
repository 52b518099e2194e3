import type { AgentClient, ExecHandlers, RunRequest, RunResult } from '../../agent/client.js';
import type { ExecHandle } from '../../agent/client-exec.js';
import type { ExecExit, ExecRequest } from '../../agent/protocol.js';
import { HearthError } from '../../errors/hearth-error.js';
import type { SandboxCgroup } from '../../sandboxes/cgroups.js';

/**
 * Whole-sandbox limits for gVisor, from the host. Every guest process lives in the sentry (its
 * memory in the sentry's memory file), so a per-process rlimit inside cannot bound the sum: 8
 * processes of 200 MB each pass a 256 MB RLIMIT_AS. The host cgroup that holds runsc's processes
 * (sentry, gofer) can, and is what this module drives:
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

export interface GvisorLimitsOptions {
  cgroup: SandboxCgroup;
  /** The sandbox's memory (what the cgroup holds between execs). */
  memoryMb: number;
}

/** The agent as a gVisor sandbox's user sees it: every exec bounded as a whole, OOM reported honestly. */
export function withSandboxLimits(agent: AgentClient, o: GvisorLimitsOptions): AgentClient {
  const active = new Map<number, number | undefined>();
  let nextId = 0;
  const apply = (): void => {
    let mb = active.size ? 0 : o.memoryMb;
    for (const want of active.values()) mb = Math.max(mb, Math.min(want ?? o.memoryMb, o.memoryMb));
    try {
      o.cgroup.setLimits({ memoryMb: mb + SENTRY_OVERHEAD_MB });
    } catch {
      // Lowering below what the sentry holds fails (EBUSY): the sandbox's own limit still holds.
    }
  };
  const exec = (req: ExecRequest, handlers?: ExecHandlers): ExecHandle => {
    const id = nextId++;
    active.set(id, req.limits?.memoryMb);
    apply();
    const oomBefore = o.cgroup.oomKills();
    const started = performance.now();
    const inner = agent.exec(req, handlers);
    const oomed = () => o.cgroup.oomKills() > oomBefore;
    const exit = inner.exit.then(
      (e): ExecExit => (oomed() ? { ...e, outOfMemory: true } : e),
      (err: unknown): ExecExit => {
        if (!oomed()) throw err;
        return {
          exitCode: null,
          signal: 'SIGKILL',
          timedOut: false,
          truncated: false,
          outOfMemory: true,
          cpuTimeMs: 0,
          wallTimeMs: Math.round(performance.now() - started),
          peakMemoryKb: o.cgroup.peakMemoryKb(),
        };
      },
    );
    const done = exit.finally(() => {
      active.delete(id);
      apply();
    });
    done.catch(() => {});
    return {
      started: inner.started,
      writeStdin: (d) => inner.writeStdin(d),
      closeStdin: () => inner.closeStdin(),
      kill: (s) => inner.kill(s),
      exit: done,
    };
  };
  const run = async (req: RunRequest, handlers: ExecHandlers = {}): Promise<RunResult> => {
    const { stdin, ...rest } = req;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const handle = exec(
      { ...rest, stdin: stdin !== undefined ? 'pipe' : 'null' },
      {
        onStdout: (c) => {
          stdout.push(c);
          handlers.onStdout?.(c);
        },
        onStderr: (c) => {
          stderr.push(c);
          handlers.onStderr?.(c);
        },
      },
    );
    if (stdin !== undefined) {
      handle.writeStdin(stdin);
      handle.closeStdin();
    }
    const e = await handle.exit;
    return { ...e, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) };
  };
  return new Proxy(agent, {
    get(target, prop) {
      if (prop === 'exec') return exec;
      if (prop === 'run') return run;
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A SANDBOX_START_FAILED for a host without usable cgroups (gVisor's limits need them). */
export function noCgroups(reason: string): HearthError {
  return new HearthError(
    'SANDBOX_START_FAILED',
    `gVisor sandboxes need host cgroups for their memory and process limits: ${reason}`,
  );
}
